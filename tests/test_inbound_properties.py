"""Inbound mail is whatever the world sends: the classifier never raises, always yields
at least one event, and gives the same mail the same keys."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.inbound import Addressing, classify
from publisher.types import EventKind

ADDRESSING = Addressing("key", "bounces")
NOW = datetime(2026, 11, 28, tzinfo=UTC)
HEADERS = st.sampled_from(
    [
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n",
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n",
        b"Auto-Submitted: auto-replied\r\n",
        b"To: bounces+d1.1.aaaaaaaaaaaa@news.example.org\r\n",
        b"To: unsubscribe@news.example.org\r\nSubject: a.b.cccccccccccccccccccc\r\n",
        b"X-HmXmrOriginalRecipient: <\xff@x>\r\n",
        b"Content-Type: message/delivery-status\r\n",
        b"",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(HEADERS, max_size=4), st.binary(max_size=600))
def test_any_bytes_classify_without_error(headers: list[bytes], body: bytes) -> None:
    raw = b"".join(headers) + b"\r\n" + body
    events = classify(raw, ADDRESSING, "file", NOW)
    assert events and all(isinstance(e.kind, EventKind) for e in events)
    assert [e.key for e in classify(raw, ADDRESSING, "file", NOW)] == [e.key for e in events]
