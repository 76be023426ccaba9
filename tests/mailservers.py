"""Throwaway Postfix and Dovecot instances on loopback, for the deliverability tests.

Each gets its own folder (configuration, queue or mail store, log) under a fresh
directory in /tmp that the unprivileged daemons can reach, listens on 127.0.0.1 only, runs
in the foreground as a child of the test and is stopped (and waited for) at the end.
Both need root (Postfix's master and Dovecot drop privileges themselves), as CI has.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTFIX_SERVICES = """\
{listen} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def require_root_and(binary: str) -> None:
    if shutil.which(binary) is None and not Path(binary).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is not installed under CI (.ci/run installs it)")
        pytest.skip(f"{binary} is not installed")
    if os.geteuid() != 0:
        pytest.skip("the throwaway mail servers need root")


@contextmanager
def reachable_dir(prefix: str) -> Iterator[Path]:
    """A fresh folder the daemons' own users can traverse (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postfix(smtp_port: int, relay_port: int, lmtp_port: int, domain: str) -> Iterator[Path]:
    """Postfix taking mail on ``smtp_port``, relaying everything to ``relay_port`` except
    ``domain``, which it delivers over LMTP to ``lmtp_port``. Yields its log file."""
    require_root_and("postfix")
    with reachable_dir("publisher-postfix-") as home:
        conf, queue, data = home / "conf", home / "queue", home / "data"
        for folder in (conf, queue, data):
            folder.mkdir()
        shutil.chown(data, "postfix")
        log = home / "maillog"
        (conf / "main.cf").write_text(
            f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
meta_directory = /etc/postfix
mail_owner = postfix
maillog_file = /dev/stdout
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.{domain}
mydomain = {domain}
myorigin = {domain}
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = {domain}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
transport_maps = inline:{{ {domain}=lmtp:inet:127.0.0.1:{lmtp_port} }}
relayhost = [127.0.0.1]:{relay_port}
smtp_host_lookup = native
lmtp_host_lookup = native
smtp_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
alias_maps =
alias_database =
biff = no
""",
            encoding="utf-8",
        )
        (conf / "master.cf").write_text(
            POSTFIX_SERVICES.format(listen=f"127.0.0.1:{smtp_port}"), encoding="utf-8"
        )
        with log.open("wb") as out:
            master = subprocess.Popen(
                ["postfix", "-c", str(conf), "start-fg"], stdout=out, stderr=subprocess.STDOUT
            )
            try:
                wait_for_smtp(smtp_port, master, log)
                yield log
            finally:
                subprocess.run(["postfix", "-c", str(conf), "stop"], capture_output=True)
                try:
                    master.wait(20)
                except subprocess.TimeoutExpired:
                    master.kill()
                    master.wait(5)


def wait_for_smtp(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text(errors='replace')}")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                client.noop()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def dovecot(port: int, user: str, password: str) -> Iterator[Path]:
    """Dovecot serving IMAP (plain, loopback only) for one user; yields its home folder."""
    require_root_and("dovecot")
    with reachable_dir("publisher-dovecot-") as home:
        mail = home / "mail"
        mail.mkdir()
        shutil.chown(mail, "mail", "mail")
        (home / "passwd").write_text(f"{user}:{{PLAIN}}{password}\n", encoding="utf-8")
        log = home / "dovecot.log"
        conf = home / "dovecot.conf"
        conf.write_text(
            f"""base_dir = {home}/run
state_dir = {home}/state
log_path = {log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {home}/passwd
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""",
            encoding="utf-8",
        )
        with (home / "dovecot.out").open("wb") as out:
            server = subprocess.Popen(
                ["dovecot", "-F", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
            try:
                wait_for_imap(port, server, home)
                yield home
            finally:
                server.terminate()  # the master stops its children before it exits
                try:
                    server.wait(20)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(5)


def wait_for_imap(port: int, process: subprocess.Popen[bytes], home: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            logs = [home / "dovecot.out", home / "dovecot.log"]
            text = "".join(p.read_text(errors="replace") for p in logs if p.exists())
            raise AssertionError(f"dovecot exited: {text}")
        try:
            imaplib.IMAP4("127.0.0.1", port, timeout=5).logout()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
