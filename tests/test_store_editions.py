"""Editions in the store: one per period key, even when processes race, on both databases."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from publisher.exceptions import NotFound
from publisher.store import Store, open_store
from publisher.store.schema import editions
from publisher.types import Edition, Frequency

END = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


def test_open_creates_then_returns_the_same_edition(store: Store) -> None:
    first = store.editions.open(
        "daily/2026-11-27", Frequency.DAILY, END, [3, 1, 2], window_start=END - timedelta(days=1)
    )
    assert first.key == "daily/2026-11-27" and first.article_ids == (3, 1, 2)
    assert first.window_start == END - timedelta(days=1) and first.window_end == END
    assert first.status == "open"
    again = store.editions.open("daily/2026-11-27", Frequency.DAILY, END + timedelta(hours=2), [9])
    assert again == first  # the stored cutoff and articles win: a rerun renders the same
    assert store.editions.get("daily/2026-11-27") == first


def test_get_unknown_key_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="daily/2020-01-01"):
        store.editions.get("daily/2020-01-01")
    assert store.editions.find("daily/2020-01-01") is None


def test_latest_previous_and_sent_listing(store: Store) -> None:
    days = [END - timedelta(days=n) for n in (2, 1, 0)]
    made = [
        store.editions.open(f"daily/2026-11-{25 + i}", Frequency.DAILY, day, [i])
        for i, day in enumerate(days)
    ]
    store.editions.open("weekly/2026-W48", Frequency.WEEKLY, END + timedelta(hours=1), [])
    latest = store.editions.latest(Frequency.DAILY)
    assert latest is not None and latest.key == "daily/2026-11-27"
    previous = store.editions.previous(Frequency.DAILY, END)
    assert previous is not None and previous.key == "daily/2026-11-26"
    assert store.editions.previous(Frequency.DAILY, days[0]) is None
    assert store.editions.list_sent() == []
    # An edition with no ledger row has nothing to wait for: settling it makes it sent.
    sent = store.editions.settle(made[0].id, END)
    store.editions.settle(made[1].id, END)
    assert sent is not None and sent.status == "sent" and sent.sent_at == END
    assert sent.final_counts == {"sent": 0, "failed": 0, "suppressed": 0}
    assert [e.key for e in store.editions.list_sent(Frequency.DAILY)] == [
        "daily/2026-11-26",
        "daily/2026-11-25",
    ]
    assert [e.key for e in store.editions.list_sent(limit=1, offset=1)] == ["daily/2026-11-25"]
    assert store.editions.settle(10_000, END) is None


@pytest.mark.slow
def test_racing_processes_get_the_same_edition(database_url: str) -> None:
    """Eight stores (own engines, as separate processes have) open one key at once."""
    stores = [open_store(database_url, "https://news.example.org", create=True) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: list[Edition] = []
    errors: list[BaseException] = []

    def run(store: Store, n: int) -> None:
        try:
            barrier.wait()
            results.append(
                store.editions.open("daily/2026-11-27", Frequency.DAILY, END, [n], now=END)
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert len({r.id for r in results}) == 1 and len(results) == 8
    assert len({r.article_ids for r in results}) == 1


def test_open_that_loses_the_insert_race_returns_the_winners_row(database_url: str) -> None:
    """The winner's INSERT is not committed when we look, so ours blocks, fails, re-reads."""
    winner = open_store(database_url, "https://news.example.org", create=True)
    loser = open_store(database_url, "https://news.example.org")
    results: list[Edition] = []
    took: list[float] = []

    def lose() -> None:
        started = time.perf_counter()
        results.append(loser.editions.open("daily/2026-11-27", Frequency.DAILY, END, [1]))
        took.append(time.perf_counter() - started)

    with winner.engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(
            insert(editions).values(
                key="daily/2026-11-27",
                frequency="daily",
                window_end=END,
                article_ids="[7]",
                status="open",
                created_at=END,
            )
        )
        thread = threading.Thread(target=lose)
        thread.start()
        time.sleep(0.6)
        transaction.commit()
    thread.join(30)
    winner.close()
    loser.close()
    assert [r.article_ids for r in results] == [(7,)]
    assert took[0] >= 0.4  # it waited for the winner's commit: the IntegrityError path
