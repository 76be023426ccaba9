"""The whole loop against a real Postfix: the digest goes out through Postfix to a server
that refuses some readers with 550; Postfix itself writes the DSNs to each message's VERP
address and delivers them over LMTP to ``publisher inbound serve``; exactly the refused
readers end bounced and suppressed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from click.testing import CliRunner, Result
from inbound_support import add_article
from localhost import free_port
from mailservers import postfix

from publisher.cli import main

DOMAIN = "news.example.org"
READERS = [f"reader{i}@example.com" for i in range(1, 7)]
REFUSED = {"reader2@example.com", "reader5@example.com"}


class RefusingServer:
    """The readers' mail server: 550 for the refused addresses, 250 for the rest."""

    def __init__(self) -> None:
        self.accepted: list[str] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in REFUSED:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--root", str(root), *args])


@pytest.mark.slow
def test_postfix_dsns_over_lmtp_bounce_exactly_the_refused_readers(project: Path) -> None:
    smtp_port, relay_port, lmtp_port = free_port(), free_port(), free_port()
    env = {
        "PUBLISHER_SECRET_KEY": "postfix-test-key-0123456789",
        "PUBLISHER_DATABASE__URL": f"sqlite:///{project / 'var' / 'publisher.db'}",
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(smtp_port),
        "PUBLISHER_MAIL__RETURN_PATH": f"bounces@{DOMAIN}",
        "PUBLISHER_DIGEST__FROM_ADDRESS": f"newsletter@{DOMAIN}",
    }
    project.mkdir(parents=True, exist_ok=True)
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), "utf-8")
    assert run(project, "init").exit_code == 0
    for email in READERS:
        assert run(project, "subscribers", "add", email, "--confirmed").exit_code == 0
    add_article(project)
    sink = RefusingServer()
    relay = Controller(sink, hostname="127.0.0.1", port=relay_port)
    relay.start()
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "publisher",
            "--root",
            str(project),
            "inbound",
            "serve",
            "--listen",
            f"127.0.0.1:{lmtp_port}",
            "--lmtp",
        ],
        stderr=subprocess.PIPE,
    )
    try:
        with postfix(smtp_port, relay_port, lmtp_port, DOMAIN) as log:
            sent = run(project, "digest", "send")
            assert sent.exit_code == 0, sent.output
            bounced = wait_for_bounced(project, len(REFUSED), log)
    finally:
        relay.stop()
        receiver.terminate()
        errors = receiver.communicate(timeout=10)[1]
    assert b"Traceback" not in errors, errors.decode()
    assert bounced == REFUSED
    assert sorted(sink.accepted) == sorted(set(READERS) - REFUSED)
    for email in REFUSED:
        shown = json.loads(run(project, "subscribers", "show", email, "--json").output)
        assert shown["suppressed"].startswith("hard bounce (lmtp): 5.1.1")
        assert [(e["kind"], e["edition_id"]) for e in shown["events"]] == [("hard_bounce", 1)]


def wait_for_bounced(root: Path, count: int, log: Path) -> set[str]:
    deadline = time.monotonic() + 60
    while True:
        listed = json.loads(run(root, "subscribers", "list", "--json").output)
        bounced = {s["email"] for s in listed if s["status"] == "bounced"}
        if len(bounced) >= count:
            time.sleep(1)  # anything more that was coming has come
            listed = json.loads(run(root, "subscribers", "list", "--json").output)
            return {s["email"] for s in listed if s["status"] == "bounced"}
        if time.monotonic() > deadline:
            raise AssertionError(f"bounced: {bounced}; Postfix log:\n{log.read_text()}")
        time.sleep(0.3)
