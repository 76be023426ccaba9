"""Test helpers for the delivery engine: bulk subscribers, edition rows, a message factory.

The factory stands in for the digest's renderer with the same shape: a message serialised
once as bytes, personalised per recipient with ``bytes.replace``, and a Message-ID derived
from (edition, subscriber), so a resend after a crash carries the same one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import insert, select

from publisher.store import Store
from publisher.store.schema import editions, subscribers
from publisher.types import ClaimedDelivery, OutgoingMessage

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DOMAIN = "news.example.org"
SENDER = f"digest@{DOMAIN}"

TEMPLATE = (
    b"From: Example News <digest@news.example.org>\r\n"
    b"To: @@TO@@\r\n"
    b"Subject: Daily digest\r\n"
    b"Date: Fri, 27 Nov 2026 07:00:00 +0000\r\n"
    b"Message-ID: @@MID@@\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n" + b"News of the day, line after line.\r\n" * 20
)


def add_subscribers(store: Store, count: int, start: int = 0, status: str = "active") -> list[int]:
    """Insert ``count`` active daily subscribers in one statement; return their ids."""
    rows = [
        {
            "email": f"reader{n}@example.org",
            "name": f"Reader {n}",
            "status": status,
            "frequency": "daily",
            "consent_method": "test",
            "consent_ip": "",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for n in range(start, start + count)
    ]
    with store.engine.begin() as conn:
        conn.execute(insert(subscribers), rows)
        emails = [r["email"] for r in rows]
        found = conn.execute(
            select(subscribers.c.id).where(subscribers.c.email.in_(emails))
        ).scalars()
        return sorted(found)


def add_edition(store: Store, key: str = "daily/2026-11-27") -> int:
    with store.engine.begin() as conn:
        result = conn.execute(
            insert(editions).values(
                key=key,
                frequency=key.split("/")[0],
                window_start=None,
                window_end=NOW,
                article_ids=json.dumps([]),
                status="open",
                created_at=NOW,
            )
        )
        key_id = result.inserted_primary_key
        assert key_id is not None
        return int(key_id[0])


def message_id_for(edition_key: str, subscriber_id: int) -> str:
    return f"<{edition_key.replace('/', '.')}.{subscriber_id}@{DOMAIN}>"


def make_message(claim: ClaimedDelivery) -> OutgoingMessage:
    message_id = message_id_for(claim.edition_key, claim.subscriber_id)
    data = TEMPLATE.replace(b"@@TO@@", claim.email.encode()).replace(
        b"@@MID@@", message_id.encode()
    )
    return OutgoingMessage(SENDER, claim.email, message_id, data, claim.edition_key)


def ledger_states(store: Store, edition_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in store.deliveries.rows(edition_id):
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts
