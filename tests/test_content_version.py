"""The content version the page cache keys on, on both databases.

* It moves with every write of what the public pages show (an article created, edited or
  retracted, an edition created or archived), in the same transaction, and not for a
  write that changes nothing (re-importing the same file).
* Reading it costs the same at any archive size: one row by its key and one index read,
  never a pass over the articles (PostgreSQL's plan is checked).
* On PostgreSQL a transaction moves it once however many articles it writes, and two
  writers that meet on one slug do not deadlock on it (the triggers run at commit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from publisher.store import Store, open_store
from publisher.types import ArticleInput, Category, Frequency

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


def _article(title: str, body: str = "<p>Text.</p>", **extra: object) -> ArticleInput:
    return ArticleInput(title, body, NOW - timedelta(hours=1), **extra)  # type: ignore[arg-type]


def test_every_write_that_pages_show_moves_the_version(store: Store) -> None:
    seen = [store.content_version(NOW)]

    def moved() -> bool:
        seen.append(store.content_version(NOW))
        return seen[-1] != seen[-2]

    store.articles.upsert(_article("Bridge opens", categories=(Category("local", "Local"),)))
    assert moved()
    store.articles.upsert(_article("Bridge opens", categories=(Category("local", "Local"),)))
    assert not moved()  # the same file again: nothing a reader sees changed
    store.articles.upsert(_article("Bridge opens", "<p>Edited.</p>"))
    assert moved()
    store.articles.retract("bridge-opens")
    assert moved()
    edition = store.editions.open("daily/2026-11-27", Frequency.DAILY, NOW, [1])
    assert moved()
    store.editions.settle(edition.id, NOW)  # sent: the archive lists it now
    assert moved()
    assert not moved()  # reading moves nothing


def test_a_scheduled_article_changes_the_version_when_it_comes_due(store: Store) -> None:
    later = NOW + timedelta(hours=2)
    store.articles.upsert(ArticleInput("Tomorrow's news", "<p>Soon.</p>", later))
    before, after = store.content_version(NOW), store.content_version(later)
    assert before != after  # no write in between: the time alone moved it


def test_reading_the_version_does_not_scan_the_articles(store: Store) -> None:
    with store.articles.batch() as batch:
        for n in range(300):
            batch.upsert(_article(f"Story {n}"))
    if store.dialect != "postgresql":
        return
    with store.engine.connect() as conn:
        conn.execute(text("ANALYZE articles"))
        conn.execute(text("SET enable_seqscan = off"))  # a small table is scanned anyway
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text(
                    "EXPLAIN SELECT version, (SELECT min(published_at) FROM articles "
                    "WHERE published_at > now()) FROM content_version WHERE id = 1"
                )
            )
        )
    assert "Seq Scan on articles" not in plan and "ix_articles_published" in plan, plan


ONLY_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.mark.postgres
@ONLY_POSTGRESQL
def test_on_postgresql_a_transaction_moves_it_once(store: Store) -> None:
    before = store.content_version(NOW)[0]
    with store.articles.batch(commit_every=1000) as batch:
        for n in range(50):
            batch.upsert(_article(f"Story {n}", categories=(Category("local", "Local"),)))
    assert store.content_version(NOW)[0] == before + 1  # type: ignore[operator]


@pytest.mark.postgres
@ONLY_POSTGRESQL
def test_two_writers_meeting_on_one_slug_do_not_deadlock(database_url: str) -> None:
    """A holds a new row, B inserts the slug A is about to insert: A waits for B. Had B
    to wait for the counter A moved, neither would go on (PostgreSQL would kill one).
    (SQLite has one writer at a time.)"""
    first = open_store(database_url, "https://news.example.org", create=True)
    second = open_store(database_url, "https://news.example.org")
    a_wrote, b_wrote = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer_a() -> None:
        try:
            with first.articles.batch(commit_every=1000) as batch:
                batch.upsert(_article("Harbour news"))
                a_wrote.set()
                assert b_wrote.wait(10)
                batch.upsert(_article("Shared story"))  # waits for B's row
        except BaseException as exc:  # reported below
            errors.append(exc)

    def writer_b() -> None:
        try:
            assert a_wrote.wait(10)
            with second.articles.batch(commit_every=1000) as batch:
                batch.upsert(_article("Shared story"))
                b_wrote.set()
                threading.Event().wait(0.5)  # A is now waiting for this transaction
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    try:
        before = first.content_version(NOW)[0]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        assert {a.slug for a in first.articles.newest(10)} >= {"harbour-news", "shared-story"}
        assert first.content_version(NOW)[0] == before + 2  # type: ignore[operator]
    finally:
        first.close()
        second.close()


def test_the_migration_goes_down_and_up_again(store: Store) -> None:
    """Down to 0022 (the one before) leaves no trigger (nor PostgreSQL's function) behind
    to fail on the missing table; up again, and every write moves the version as before."""
    from alembic import command
    from alembic.config import Config

    from publisher.store.engine import MIGRATIONS

    def migrate(step: Callable[[Config, str], None], revision: str) -> None:
        with store.engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            step(config, revision)

    migrate(command.downgrade, "0022")
    store.articles.upsert(_article("Written before 0021"))  # no trigger left to fail
    migrate(command.upgrade, "head")
    before = store.content_version(NOW)
    store.articles.upsert(_article("Written at the head"))
    assert store.content_version(NOW) != before
