"""The sample corpus: every sample yields its expected events, and replaying the corpus
(twice, through ``publisher inbound process``) stores every event exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from inbound_support import CORPUS, EXPECTED, SAMPLES, corpus_project, run

from publisher.inbound import Addressing, classify

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ADDRESSING = Addressing.for_return_path(EXPECTED["secret_key"], EXPECTED["return_path"])


def test_the_corpus_has_at_least_25_samples_of_every_kind_of_sender() -> None:
    assert len(SAMPLES) >= 25
    shapes = " ".join(s["shape"] for s in SAMPLES).lower()
    for who in ("postfix", "exim", "exchange", "gmail", "yahoo", "outlook", "ses", "mailgun"):
        assert who in shapes, who
    kinds = {e["kind"] for s in SAMPLES for e in s["events"]}
    assert {"hard_bounce", "soft_bounce", "complaint", "unsubscribe", "auto_reply"} <= kinds


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["file"] for s in SAMPLES])
def test_each_sample_yields_its_expected_events(sample: dict[str, Any]) -> None:
    raw = (CORPUS / sample["file"]).read_bytes()
    events = classify(raw, ADDRESSING, "file", NOW)
    got = [(e.kind.value, e.email, e.status, e.edition_id) for e in events]
    want = [
        (e["kind"], e["email"], e.get("status", ""), e.get("edition")) for e in sample["events"]
    ]
    assert got == want
    token_named = [e.subscriber_id for e in events]
    for event, expected in zip(token_named, sample["events"], strict=True):
        # the token names the subscriber when the sample carries one; else lookup does later
        assert event in (None, expected.get("subscriber"))


def test_the_same_mail_twice_gives_the_same_keys() -> None:
    for sample in SAMPLES:
        raw = (CORPUS / sample["file"]).read_bytes()
        first = [e.key for e in classify(raw, ADDRESSING, "file", NOW)]
        again = [e.key for e in classify(b"Received: by relay\r\n" + raw, ADDRESSING, "imap", NOW)]
        assert first == again, sample["file"]


@pytest.mark.slow
def test_replaying_the_corpus_twice_records_every_event_once(
    project: Path, database_url: str
) -> None:
    root = corpus_project(project, database_url)
    files = [str(CORPUS / s["file"]) for s in SAMPLES]
    first = run(root, "inbound", "process", "--json", *files)
    assert first.exit_code == 0, first.output
    stored = json.loads(first.output)
    want = [e for s in SAMPLES for e in s["events"]]
    assert len(stored) == len(want)
    for got, expected in zip(stored, want, strict=True):
        assert got["kind"] == expected["kind"]
        assert got["subscriber_id"] == expected.get("subscriber"), expected
    second = run(root, "inbound", "process", "--json", *files)
    assert second.exit_code == 0 and json.loads(second.output) == []
    listed = json.loads(run(root, "inbound", "events", "--limit", "500", "--json").output)
    assert len(listed) == len(want)
