"""``Publisher.health()``, served as ``/healthz``: database, last edition, parts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from conftest import PublisherFactory

from publisher.config import Secret, Settings
from publisher.core import MemoryTransport, Publisher
from publisher.types import Frequency, SubscriberStatus


@pytest.fixture
def publisher(settings: Settings, database_url: str, make_pub: PublisherFactory) -> Publisher:
    settings = dataclasses.replace(
        settings,
        secret_key=Secret("health-test-secret-0123456789abcdef"),
        database=dataclasses.replace(settings.database, url=database_url),
    )
    noon = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    return make_pub(settings, transport=MemoryTransport(), clock=lambda: noon)


def test_health_reports_the_database_and_the_last_edition_with_its_counts(
    publisher: Publisher,
) -> None:
    before = publisher.health()
    assert before["status"] == "ok" and before["database"] == "ok"
    assert before["last_edition"] is None
    story = b"---\ntitle: Bridge reopens\ndate: 2026-11-27T06:00:00Z\n---\nOpen again.\n"
    assert publisher.add_sources([("bridge.md", story)]).ok
    for email in ("ann@example.org", "bob@example.org"):
        publisher._services.store.subscribers.add(email, status=SubscriberStatus.ACTIVE)
    publisher.send_digest(Frequency.DAILY)
    last = publisher.health()["last_edition"]
    assert isinstance(last, dict)
    assert last["key"] == "daily/2026-11-27" and last["articles"] == 1
    assert last["created_at"] == "2026-11-27T07:00:00+00:00"
    # The send settled every row: the product marked the edition sent, with the moment.
    assert last["status"] == "sent" and last["sent_at"] == "2026-11-27T07:00:00+00:00"
    counts = last["counts"]
    assert isinstance(counts, dict) and counts["sent"] == 2 and counts["pending"] == 0


def test_health_includes_what_the_parts_report(publisher: Publisher) -> None:
    publisher.add_health_check("scheduler", lambda: {"state": "standby"})
    assert publisher.health()["scheduler"] == {"state": "standby"}
