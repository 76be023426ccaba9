"""``publisher inbound fetch`` against a real Dovecot: sample bounces appended to a
throwaway mailbox are processed once each and moved to the done folder."""

from __future__ import annotations

import imaplib
import json
import time
from pathlib import Path

import pytest
from inbound_support import CORPUS, corpus_project, run
from localhost import free_port
from mailservers import dovecot

from publisher.config import load_settings
from publisher.schedule import job_specs

USER, PASSWORD = "bounces", "imap-secret-4f2"
SAMPLES = ["gmail_no_such_user.eml", "yahoo_arf_complaint.eml", "outlook_automatic_reply.eml"]


def append(port: int, files: list[str]) -> None:
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(USER, PASSWORD)
    for name in files:
        raw = (CORPUS / name).read_bytes()
        status, _ = client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
        assert status == "OK"
    client.logout()


def count(port: int, folder: str) -> int:
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(USER, PASSWORD)
    status, data = client.select(folder, readonly=True)
    client.logout()
    return int(data[0] or 0) if status == "OK" else -1


@pytest.mark.slow
def test_fetch_processes_and_moves_each_message_once(project: Path) -> None:
    port = free_port()
    root = corpus_project(project, f"sqlite:///{project / 'var' / 'publisher.db'}")
    with (root / ".env").open("a") as env:
        env.write(
            f"PUBLISHER_INBOUND__IMAP_HOST=127.0.0.1\nPUBLISHER_INBOUND__IMAP_PORT={port}\n"
            f"PUBLISHER_INBOUND__IMAP_SECURITY=none\nPUBLISHER_INBOUND__IMAP_USER={USER}\n"
            f"PUBLISHER_INBOUND__IMAP_PASSWORD={PASSWORD}\n"
        )
    with dovecot(port, USER, PASSWORD):
        append(port, SAMPLES)
        fetched = run(root, "inbound", "fetch")
        assert fetched.exit_code == 0, fetched.output
        assert fetched.output.startswith("fetched 3 message(s)")
        assert count(port, "INBOX") == 0 and count(port, "Processed") == 3
        append(port, SAMPLES[:1])  # the same bounce arrives again
        again = run(root, "inbound", "fetch")
        assert "fetched 1 message(s): 1 already recorded" in again.output, again.output
    events = json.loads(run(root, "inbound", "events", "--json").output)
    assert sorted((e["kind"], e["source"]) for e in events) == [
        ("auto_reply", "imap"),
        ("complaint", "imap"),
        ("hard_bounce", "imap"),
    ]
    shown = json.loads(run(root, "subscribers", "show", "reader11@example.com", "--json").output)
    assert shown["status"] == "bounced"


@pytest.mark.slow
def test_a_wrong_imap_password_is_one_clear_line(project: Path) -> None:
    port = free_port()
    root = corpus_project(project, f"sqlite:///{project / 'var' / 'publisher.db'}")
    with (root / ".env").open("a") as env:
        env.write(
            f"PUBLISHER_INBOUND__IMAP_HOST=127.0.0.1\nPUBLISHER_INBOUND__IMAP_PORT={port}\n"
            "PUBLISHER_INBOUND__IMAP_SECURITY=none\nPUBLISHER_INBOUND__IMAP_USER=bounces\n"
            "PUBLISHER_INBOUND__IMAP_PASSWORD=wrong\n"
        )
    with dovecot(port, USER, PASSWORD):
        failed = run(root, "inbound", "fetch")
    assert failed.exit_code == 1
    assert failed.output.strip().splitlines() == [
        f"error: IMAP bounces@127.0.0.1:{port}/INBOX: login refused"
    ]


def test_the_scheduler_polls_the_mailbox_only_when_one_is_configured(project: Path) -> None:
    plain = {spec.id for spec in job_specs(load_settings(project, environ={}))}
    assert "inbound-fetch" not in plain
    configured = load_settings(project, environ={"PUBLISHER_INBOUND__IMAP_HOST": "imap.example"})
    specs = {spec.id: spec for spec in job_specs(configured)}
    assert specs["inbound-fetch"].func.endswith(":fetch_inbound")
