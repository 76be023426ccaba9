"""The DKIM signing process (``publisher/delivery/signing_process.py``).

A signed send hands the data its signatures cover to a child process, a few rows ahead of
the SMTP event loop. The rules: the child's signatures are the ones the signer would make
itself (RSA PKCS#1 v1.5 and Ed25519 are deterministic, so byte for byte), the child ends
when its input closes, also when the sender is killed, and a child that dies stops the
send with a one-line error instead of a message going out unsigned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from digest_support import make_dkim_key, make_ed25519_key

from publisher.delivery.signing_process import SigningError, SigningProcess
from publisher.digest import load_signer
from publisher.digest.dkim import DkimSigner

MESSAGE = (
    b"From: News <digest@news.example.org>\r\nTo: reader@example.com\r\n"
    b"Subject: Today\r\nMessage-ID: <1@news.example.org>\r\n\r\nBody line.\r\n"
)


def _signer(folder: Path) -> DkimSigner:
    rsa_key, _ = make_dkim_key(folder)
    ed_key, _ = make_ed25519_key(folder)
    return load_signer(rsa_key, "mail", "", "digest@news.example.org", ed_key, "ed")


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_the_child_signs_as_the_signer_does_and_ends_when_its_input_closes(
    tmp_path: Path,
) -> None:
    signer = _signer(tmp_path)
    messages = [MESSAGE.replace(b"reader@", f"reader{n}@".encode()) for n in range(5)]
    process = SigningProcess(signer.key_specs)
    deferred = []
    for message in messages:
        with signer.deferred() as unsigned:
            assert signer.sign(message) == message  # no headers yet: the child signs
        deferred.append((message, list(unsigned)))
    # Two requests in flight at once; the answers come back in the order asked.
    process.submit([(u.key, u.data) for _, parts in deferred[:2] for u in parts])
    process.submit([(u.key, u.data) for _, parts in deferred[2:] for u in parts])
    signatures = process.receive() + process.receive()
    done = []
    for message, parts in deferred:
        mine, signatures = signatures[: len(parts)], signatures[len(parts) :]
        done.append(signer.complete(message, parts, mine))
    assert done == [signer.sign(m) for m in messages]  # RSA and Ed25519, byte for byte
    child = process._child
    process.close()
    assert child.returncode == 0


def test_a_child_that_dies_stops_the_send_with_a_one_line_error(tmp_path: Path) -> None:
    signer = _signer(tmp_path)
    process = SigningProcess(signer.key_specs)
    process._child.kill()
    process._child.wait()
    with pytest.raises(SigningError, match=r"^the DKIM signing process ended \(exit status -9\)$"):
        process.submit([(0, b"data")])
        process.receive()
    process.close()


def test_the_child_ends_when_the_sender_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives the sender no chance to close anything: the child sees its input end."""
    key, _ = make_dkim_key(tmp_path)
    script = (
        "import sys, time\n"
        "from publisher.delivery.signing_process import SigningProcess\n"
        f"p = SigningProcess([('rsa-sha256', open({str(key)!r}, 'rb').read())])\n"
        "p.submit([(0, b'x')]); p.receive()\n"
        "print(p._child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    sender = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert sender.stdout is not None
    with sender.stdout:
        child = int(sender.stdout.readline())
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=10)
    assert _gone(child, within=10)
