"""The loop through the product's entry points: VERP addresses in what is sent, the LMTP
receiver, the suppression policy, ``subscribers show`` and ``digest status``."""

from __future__ import annotations

import json
import re
import smtplib
import subprocess
import sys
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from inbound_support import CORPUS, EXPECTED, add_article, corpus_project, run
from localhost import free_port

from publisher.tokens import read_verp_token, verp_token

KEY = EXPECTED["secret_key"]


def sent_files(root: Path) -> list[Path]:
    return sorted((root / "var" / "outbox").glob("daily_*/*.eml"))


def test_each_message_carries_its_own_verp_return_path_and_unsubscribe_mailto(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url)
    add_article(root)
    sent = run(root, "digest", "send")
    assert sent.exit_code == 0, sent.output
    files = sent_files(root)
    assert len(files) == len(EXPECTED["subscribers"])
    seen = set()
    for path in files:
        message = message_from_bytes(path.read_bytes())
        return_path = str(message["Return-Path"]).strip("<>")
        local, _, domain = return_path.partition("@")
        assert local.startswith("bounces+") and domain == "news.example.org"
        kind, edition_id, subscriber_id = read_verp_token(KEY, local.split("+", 1)[1])
        assert kind == "digest" and edition_id == 1
        assert EXPECTED["subscribers"][subscriber_id - 1] == str(message["To"])
        unsubscribe = " ".join(str(message["List-Unsubscribe"]).split())
        assert f"mailto:unsubscribe+{local.split('+', 1)[1]}@news.example.org?" in unsubscribe
        seen.add(subscriber_id)
    assert len(seen) == len(files)  # one token per reader


def test_a_bounce_of_a_sent_message_fed_back_bounces_exactly_that_reader(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url, "bounces@news.example.org")
    add_article(root)
    assert run(root, "digest", "send").exit_code == 0
    original = next(p for p in sent_files(root) if "reader4@" in p.read_text())
    return_path = message_from_bytes(original.read_bytes())["Return-Path"].strip("<>")
    template = (CORPUS / "postfix_user_unknown.eml").read_bytes().decode()
    dsn = template.replace(template.split("To: ", 1)[1].split("\r\n", 1)[0], return_path)
    dsn = dsn.replace("reader1@", "reader4@")
    (root / "dsn.eml").write_text(dsn, encoding="utf-8", newline="")
    processed = run(root, "inbound", "process", str(root / "dsn.eml"))
    assert processed.exit_code == 0, processed.output
    assert "hard_bounce reader4@example.com (subscriber 4) -> bounce" in processed.output
    shown = json.loads(run(root, "subscribers", "show", "reader4@example.com", "--json").output)
    assert shown["status"] == "bounced" and "hard bounce" in shown["suppressed"]
    assert [e["kind"] for e in shown["events"]] == ["hard_bounce"]
    assert shown["events"][0]["edition_id"] == 1
    others = json.loads(run(root, "subscribers", "list", "--json").output)
    assert [s["email"] for s in others if s["status"] == "bounced"] == ["reader4@example.com"]
    status = run(root, "digest", "status")
    assert "bounce rate 8.33% is over 2.00%" in status.output, status.output


def reader3_report(sample: str, edition: int, serial: int) -> bytes:
    """A corpus DSN re-addressed to reader 3's copy of ``edition`` (its own Message-ID)."""
    text = (CORPUS / sample).read_text(encoding="utf-8")
    for old in set(re.findall(r"\+([a-z0-9]+\.[a-z0-9]+\.[a-z2-7]{12})@", text)):
        text = text.replace(old, verp_token(KEY, "digest", edition, 3))
    text = text.replace("reader4@", "reader3@")
    return re.sub(r"Message-ID: <[^>]+>", f"Message-ID: <r3-{serial}@mx>", text, count=1).encode()


def show(root: Path, email: str) -> dict[str, Any]:
    return dict(json.loads(run(root, "subscribers", "show", email, "--json").output))


def test_soft_bounces_suppress_at_the_limit_counting_editions_since_the_last_delivery(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url)
    with (root / ".env").open("a") as env:
        env.write("PUBLISHER_BOUNCE__SOFT_LIMIT=2\n")
    full = "postfix_mailbox_full.eml"  # 552 5.2.2: soft
    steps = [
        (reader3_report(full, 7, 1), "active"),
        (reader3_report(full, 7, 1), "active"),  # the same mail again: one event
        (reader3_report(full, 7, 2), "active"),  # another report on edition 7: counts once
        (reader3_report("postfix_delivered.eml", 8, 3), "active"),  # delivered: starts over
        (reader3_report(full, 9, 4), "active"),
        (reader3_report(full, 10, 5), "bounced"),  # two editions since the delivery
    ]
    for raw, status in steps:
        done = run(root, "inbound", "process", "-", input=raw)
        assert done.exit_code == 0, done.output
        assert show(root, "reader3@example.com")["status"] == status, done.output
    shown = show(root, "reader3@example.com")
    assert shown["suppressed"].startswith("2 soft bounces")
    assert len(shown["events"]) == 5


def test_a_complaint_unsubscribes_and_suppresses_with_its_reason(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url)
    complaint = run(root, "inbound", "process", str(CORPUS / "yahoo_arf_complaint.eml"))
    assert "complaint reader4@example.com (subscriber 4) -> complaint" in complaint.output
    shown = show(root, "reader4@example.com")
    assert shown["status"] == "unsubscribed"
    assert shown["suppressed"].startswith("complaint (file): abuse Yahoo!-Mail-Feedback/2.0")
    text = run(root, "subscribers", "show", "reader4@example.com").output
    assert "complaint" in text and "reader4@example.com" in text


@pytest.mark.slow
def test_inbound_serve_takes_mail_over_lmtp_and_answers_per_recipient(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "publisher",
            "--root",
            str(root),
            "inbound",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--lmtp",
        ],
        stderr=subprocess.PIPE,
    )
    errors = b""
    try:
        client = _connect_lmtp(port)
        raw = (CORPUS / "gmail_no_such_user.eml").read_bytes()
        to = ["bounces@news.example.org", "postmaster@news.example.org"]
        refused = client.sendmail("", to, raw)
        assert refused == {}
        client.quit()
    finally:
        server.terminate()
        errors = server.communicate(timeout=10)[1]
    assert server.returncode == 0, errors.decode()  # SIGTERM stops it cleanly
    assert b"Traceback" not in errors, errors.decode()
    shown = json.loads(run(root, "subscribers", "show", "reader11@example.com", "--json").output)
    assert shown["status"] == "bounced"
    assert [(e["kind"], e["source"]) for e in shown["events"]] == [("hard_bounce", "lmtp")]


def _connect_lmtp(port: int) -> smtplib.LMTP:
    deadline = time.monotonic() + 20
    while True:
        try:
            return smtplib.LMTP("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.slow
def test_serve_runs_the_receiver_when_inbound_listen_is_set(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url)
    port, web_port = free_port(), free_port()
    with (root / ".env").open("a") as env:
        env.write(f"PUBLISHER_INBOUND__LISTEN=127.0.0.1:{port}\n")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "publisher",
            "--root",
            str(root),
            "serve",
            "--no-scheduler",
            "--no-worker",
            "--port",
            str(web_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        client = _connect_lmtp(port)
        client.sendmail("", ["bounces@news.example.org"], (CORPUS / "outlook_ndr.eml").read_bytes())
        client.quit()
    finally:
        server.terminate()
        errors = server.communicate(timeout=20)[1]
    assert b"Traceback" not in errors, errors.decode()
    assert show(root, "reader6@example.com")["status"] == "bounced"


def test_inbound_process_reads_every_file_first_and_names_a_missing_one(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url)
    good = str(CORPUS / "gmail_no_such_user.eml")
    failed = run(root, "inbound", "process", good, str(root / "missing.eml"))
    assert failed.exit_code == 1
    assert (
        failed.output.strip()
        == f"error: {root / 'missing.eml'}: cannot read: No such file or directory"
    )
    assert show(root, "reader11@example.com")["events"] == []  # nothing half-done


def test_a_confirmation_mail_has_its_own_verp_kind(project: Path, database_url: str) -> None:
    root = corpus_project(project, database_url)
    assert run(root, "subscribers", "add", "new@example.org").exit_code == 0
    sent = next((root / "var" / "outbox" / "confirmations").glob("*.eml"))
    return_path = message_from_bytes(sent.read_bytes())["Return-Path"].strip("<>")
    token = return_path.split("+", 1)[1].split("@")[0]
    assert read_verp_token(KEY, token) == ("confirm", 0, 13)


def test_removing_a_reader_erases_the_address_from_their_mail_events(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url)
    for sample in ("yahoo_arf_complaint.eml", "aol_arf_no_token.eml"):
        assert run(root, "inbound", "process", str(CORPUS / sample)).exit_code == 0
    assert run(root, "subscribers", "remove", "reader4@example.com").exit_code == 0
    events = run(root, "inbound", "events", "--json").output
    assert "reader4@" not in events and "reader10@example.com" in events
    assert [e["kind"] for e in json.loads(events)] == ["complaint", "complaint"]
