"""``PUBLISHER_DIGEST__LOCAL_DELIVERY``: the daily digest at 07:00 on each reader's own clock.

A Karachi newsroom (UTC+5) closes each site-day edition at 07:00 its time (02:00 UTC).
Readers in Pacific/Kiritimati (UTC+14), America/St_Johns (UTC-3:30, daylight time from
14 March 2027), Asia/Kathmandu (UTC+5:45) and Europe/London (summer time from 28 March
2027), and one who set no zone (the site's), are followed for five site days across
London's change. The clock moves in 15-minute steps; at each step the product does what
its scheduler does: at the site's 07:00 it sends the day's digest, and at every step a
worker drains what is due. Every reader must get each edition exactly once, at the first
07:00 of their own clock at or after the edition closed; on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import PublisherFactory

from publisher.cli import main
from publisher.config import load_settings
from publisher.core import MemoryTransport, SubscribeRequest
from publisher.types import ArticleInput, Frequency

SITE = ZoneInfo("Asia/Karachi")
FIRST_CLOSE = datetime(2027, 3, 26, 2, 0, tzinfo=UTC)  # 07:00 in Karachi
DAYS = 5
STEP = timedelta(minutes=15)
READERS = {
    "kiritimati@example.org": "Pacific/Kiritimati",
    "stjohns@example.org": "America/St_Johns",
    "kathmandu@example.org": "Asia/Kathmandu",
    "london@example.org": "Europe/London",
    "site@example.org": "",  # no zone chosen: the site's, resolved at send time
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def expected_moment(email: str, close: datetime) -> datetime:
    """Written out per zone (not by the product's function): the first local 07:00 >= close."""
    day = close.date()
    return {
        # 16:00 local at the close: the next local morning, the same UTC day at 17:00.
        "kiritimati@example.org": datetime(day.year, day.month, day.day, 17, 0, tzinfo=UTC),
        # 07:00 NDT (UTC-2:30) the same day: 09:30 UTC.
        "stjohns@example.org": datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC),
        # 07:00 in Kathmandu is 01:15 UTC, before the 02:00 close: the next day's.
        "kathmandu@example.org": datetime(day.year, day.month, day.day, 1, 15, tzinfo=UTC)
        + timedelta(days=1),
        # GMT until 28 March (07:00 UTC), BST from then (06:00 UTC).
        "london@example.org": datetime(
            day.year, day.month, day.day, 7 if day.day < 28 else 6, 0, tzinfo=UTC
        ),
        "site@example.org": close,
    }[email]


@pytest.mark.slow
def test_each_reader_gets_each_day_once_at_their_own_seven(
    project: Path, database_url: str, make_pub: PublisherFactory
) -> None:
    env = {
        "PUBLISHER_SECRET_KEY": "local-delivery-test-secret-0123456789",
        "PUBLISHER_DATABASE__URL": database_url,
        "PUBLISHER_SITE__TIMEZONE": "Asia/Karachi",
        "PUBLISHER_DIGEST__DAILY_AT": "07:00",
        "PUBLISHER_DIGEST__LOCAL_DELIVERY": "true",
        "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
    }
    settings = load_settings(project, environ=env)
    clock = Clock(FIRST_CLOSE - timedelta(hours=1))
    transport = MemoryTransport()
    publisher = make_pub(settings, transport=transport, clock=clock)
    for email, zone in READERS.items():
        publisher.add_subscriber(SubscribeRequest(email, timezone=zone, method="cli"), True)

    received: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    closes = [FIRST_CLOSE + timedelta(days=n) for n in range(DAYS)]
    keys: dict[datetime, str] = {}
    end = closes[-1] + timedelta(days=1, hours=1)
    while clock.now <= end:
        before = len(transport.sent)
        if clock.now + timedelta(hours=1) in closes:  # the day's story, an hour before
            publisher.store_article(
                ArticleInput(
                    title=f"Story of {clock.now:%d %B}",
                    content_html="<p>News.</p>",
                    published_at=clock.now,
                )
            )
        if clock.now in closes:
            report = publisher.send_digest(Frequency.DAILY)  # the scheduler's daily job
            keys[clock.now] = report.edition_key
        publisher.drain()  # a worker: whatever is due now
        if clock.now == closes[0] + timedelta(hours=1):  # the site's readers have theirs
            (first,) = publisher.delivery_status(keys[closes[0]])
            assert first.state == "sending" and first.counts["pending"] == 4
            waves = publisher.delivery_waves(keys[closes[0]])
            assert [wave.at for wave in waves] == sorted(
                expected_moment(email, closes[0]) for email in READERS
            )
            # The site's readers' wave went out at the close; the others wait.
            assert [(wave.readers, wave.sent, wave.pending) for wave in waves] == [
                (1, 1, 0),
                *[(1, 0, 1)] * 4,
            ]
            shown = CliRunner().invoke(
                main, ["--root", str(project), "digest", "status", keys[closes[0]]], env=env
            )
            assert shown.exit_code == 0, shown.output
            assert "2027-03-26 17:00:00" in shown.output  # Kiritimati's wave
        for message in transport.sent[before:]:
            received[message.recipient].append((message.edition_key, clock.now))
        clock.now += STEP

    for email in READERS:
        got = received[email]
        keys_got = [key for key, _ in got]
        assert len(keys_got) == len(set(keys_got)), f"{email} got an edition twice: {got}"
        expected = [(keys[c], expected_moment(email, c)) for c in closes]
        assert got == [(k, m) for k, m in expected if m <= end], email
        assert len(got) == DAYS, f"{email}: one digest per day, {len(got)} in {DAYS} days"
    # The last edition waits for Kiritimati's and Kathmandu's mornings: sending until then.
    statuses = {s.edition_key: s for s in publisher.delivery_status()}
    assert all(statuses[key].state == "sent" for key in keys.values())
