"""Subscribers and suppressions in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from publisher.addresses import normalise_address
from publisher.exceptions import NotFound, SubscriberError
from publisher.store import Store
from publisher.types import Frequency, SubscriberStatus


def test_add_get_and_unique_address(store: Store) -> None:
    sub = store.subscribers.add(normalise_address("Ann@Example.org"), name="Ann")
    assert sub.email == "ann@example.org"
    assert sub.status is SubscriberStatus.PENDING
    assert store.subscribers.get_by_email("ann@example.org").id == sub.id
    with pytest.raises(SubscriberError, match="already subscribed"):
        store.subscribers.add(normalise_address("ANN@example.ORG"))


def test_categories_and_status_update(store: Store) -> None:
    sub = store.subscribers.add("b@example.org", categories=["sport", "local", "sport"])
    assert sub.categories == ("local", "sport")
    changed = store.subscribers.update(
        sub.id, status=SubscriberStatus.ACTIVE, categories=["science"]
    )
    assert changed.status is SubscriberStatus.ACTIVE
    assert changed.categories == ("science",)
    with pytest.raises(NotFound):
        store.subscribers.update(9999, status=SubscriberStatus.ACTIVE)


def test_eligible_excludes_pending_other_frequency_and_suppressed(store: Store) -> None:
    active = SubscriberStatus.ACTIVE
    keep = store.subscribers.add("keep@example.org", status=active)
    store.subscribers.add("pending@example.org")
    store.subscribers.add("weekly@example.org", status=active, frequency=Frequency.WEEKLY)
    store.subscribers.add("bounced@example.org", status=active)
    store.subscribers.suppress("bounced@example.org", "550 user unknown")
    store.subscribers.suppress("bounced@example.org", "again")  # idempotent
    assert [s.id for s in store.subscribers.eligible(Frequency.DAILY)] == [keep.id]
    assert store.subscribers.is_suppressed("bounced@example.org")
    assert not store.subscribers.is_suppressed("keep@example.org")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "no-at-sign",
        "a@@example.org",
        "a b@example.org",
        "a@example.org\r\nBcc: x@y.z",
        "x" * 300 + "@example.org",
        "a@localhost",
        '"quoted"@example.org',
    ],
)
def test_invalid_addresses_are_refused(raw: str) -> None:
    with pytest.raises(SubscriberError) as caught:
        normalise_address(raw)
    assert caught.value.field == "email"


def test_internationalised_addresses_are_accepted() -> None:
    assert normalise_address("Zoë@Bücher.de") == "zoë@bücher.de"
    assert normalise_address("user@例え.jp") == "user@例え.jp"


def test_a_staged_copy_line_escapes_what_copy_text_format_reads_as_syntax() -> None:
    """The PostgreSQL import writes COPY's text format itself: a backslash, tab, CR or LF
    in any value is escaped (else a tab would shift the columns and ``\\N`` turn a name
    into NULL), and None is ``\\N``."""
    from datetime import datetime

    from publisher.store.subscriber_copy import staged_line

    plain = staged_line(2, "a@example.org", "Ann", "daily", "local,sport", None, None, "")
    assert plain == "2\ta@example.org\tAnn\tdaily\tlocal,sport\t\\N\t\\N\t\n"
    moment = datetime(2026, 1, 2, 3, 4, 5)
    hostile = staged_line(3, "b\t@x.org", "\\N a\\b\r\nc", None, None, moment, "ur", "A\tB")
    assert hostile == (
        "3\tb\\t@x.org\t\\\\N a\\\\b\\r\\nc\t\\N\t\\N\t2026-01-02 03:04:05\tur\tA\\tB\n"
    )
    assert hostile.count("\t") == 7 and hostile.count("\n") == 1
