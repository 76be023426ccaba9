"""The content store on SQLite and PostgreSQL: upsert, guid permanence, lookups, retraction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event, select

from publisher.exceptions import IngestError, NotFound, StoreError
from publisher.store import Store, open_store
from publisher.store.schema import articles
from publisher.types import ArticleInput, Category, UpsertOutcome

T0 = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
LOCAL = Category("local", "Local")
SPORT = Category("sport", "Sport")


def article(title: str = "Council approves bridge", **changes: object) -> ArticleInput:
    base = ArticleInput(
        title=title,
        content_html="<p>The council voted 7-2.</p>",
        published_at=T0,
        summary="The council voted.",
        authors=("Zoë Müller",),
        categories=(LOCAL,),
        source="test",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_insert_assigns_guid_slug_and_url(store: Store) -> None:
    result = store.articles.upsert(article())
    stored = result.article
    assert result.outcome is UpsertOutcome.CREATED
    assert stored.guid.startswith("urn:uuid:")
    assert stored.slug == "council-approves-bridge"
    assert stored.url == "https://news.example.org/articles/council-approves-bridge"
    assert stored.authors == ("Zoë Müller",)
    assert stored.categories == (LOCAL,)
    assert result.touched_categories == ("local",)


def test_times_are_stored_in_utc_and_come_back_aware(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    stored = store.articles.upsert(
        article(published_at=datetime(2026, 11, 20, 9, 30, tzinfo=paris))
    ).article
    assert stored.published_at == T0
    assert stored.published_at.tzinfo is UTC
    with store.engine.connect() as conn:
        raw = conn.execute(select(articles.c.published_at).select_from(articles)).scalar_one()
    assert raw.hour == 8  # UTC in the column, whatever the source's zone was


def test_naive_datetime_is_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.articles.upsert(article(published_at=datetime(2026, 11, 20, 8, 30)))
    assert store.articles.count() == 0


def test_same_article_again_is_unchanged_and_keeps_updated_at(store: Store) -> None:
    first = store.articles.upsert(article(), now=T0).article
    again = store.articles.upsert(article(), now=T0 + timedelta(days=1))
    assert again.outcome is UpsertOutcome.UNCHANGED
    assert again.article.updated_at == first.updated_at
    assert store.articles.count() == 1


def test_changed_content_updates_in_place(store: Store) -> None:
    first = store.articles.upsert(article(), now=T0).article
    later = T0 + timedelta(hours=3)
    result = store.articles.upsert(
        article(content_html="<p>Vote was 6-3.</p>", categories=(SPORT,)), now=later
    )
    assert result.outcome is UpsertOutcome.UPDATED
    assert result.article.id == first.id
    assert result.article.guid == first.guid
    assert result.article.updated_at == later
    assert set(result.touched_categories) == {"local", "sport"}
    assert store.articles.count() == 1


def test_guid_is_permanent_across_slug_and_url_changes(store: Store) -> None:
    given = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    first = store.articles.upsert(article(guid=given, url="http://old.example.org/a")).article
    moved = store.articles.upsert(
        article(
            guid=given,
            title="Council approves new bridge",
            slug="new-bridge",
            url="https://news.example.org/2026/new-bridge",
        )
    ).article
    assert moved.id == first.id
    assert moved.guid == given
    assert moved.slug == "new-bridge"
    assert moved.url == "https://news.example.org/2026/new-bridge"
    assert store.articles.get(given).id == first.id


def test_without_guid_the_slug_or_url_identifies_the_article(store: Store) -> None:
    first = store.articles.upsert(article(url="https://news.example.org/x")).article
    by_url = store.articles.upsert(
        article(title="Renamed", url="https://news.example.org/x", content_html="<p>n</p>")
    )
    assert by_url.article.id == first.id
    assert by_url.article.guid == first.guid


def test_duplicate_slug_with_different_guid_is_refused(store: Store) -> None:
    store.articles.upsert(article(guid="tag:a", slug="bridge"))
    with pytest.raises(IngestError, match="slug 'bridge' already belongs"):
        store.articles.upsert(article(guid="tag:b", slug="bridge", title="Other"))
    assert store.articles.count() == 1


def test_derived_slugs_are_made_unique(store: Store) -> None:
    a = store.articles.upsert(article(guid="tag:a")).article
    b = store.articles.upsert(article(guid="tag:b")).article
    c = store.articles.upsert(article(guid="tag:c")).article
    assert [a.slug, b.slug, c.slug] == [
        "council-approves-bridge",
        "council-approves-bridge-2",
        "council-approves-bridge-3",
    ]


def test_lookup_by_id_guid_slug_and_not_found(store: Store) -> None:
    stored = store.articles.upsert(article(guid="tag:x")).article
    assert store.articles.get(stored.id).guid == "tag:x"
    assert store.articles.get(str(stored.id)).guid == "tag:x"
    assert store.articles.get("council-approves-bridge").id == stored.id
    with pytest.raises(NotFound) as caught:
        store.articles.get("no-such-thing")
    assert caught.value.key == "no-such-thing"


def test_list_is_newest_first_filters_category_and_hides_scheduled(store: Store) -> None:
    for i in range(5):
        store.articles.upsert(
            article(
                title=f"Story {i}",
                published_at=T0 + timedelta(days=i),
                categories=(SPORT,) if i % 2 else (LOCAL,),
            )
        )
    now = T0 + timedelta(days=3, hours=1)
    titles = [a.title for a in store.articles.newest(published_before=now)]
    assert titles == ["Story 3", "Story 2", "Story 1", "Story 0"]
    sport = [a.title for a in store.articles.newest(category="sport")]
    assert sport == ["Story 3", "Story 1"]
    assert [a.title for a in store.articles.newest(limit=2)] == ["Story 4", "Story 3"]
    due = store.articles.due_between(now, now + timedelta(days=1))
    assert [a.title for a in due] == ["Story 4"]


def test_retract_hides_but_keeps_history(store: Store) -> None:
    stored = store.articles.upsert(article()).article
    result = store.articles.retract(stored.slug)
    assert result.outcome is UpsertOutcome.UPDATED and result.article.retracted
    assert result.touched_categories == ("local",)
    assert store.articles.newest() == []
    assert store.articles.newest(include_retracted=True)[0].id == stored.id
    assert store.articles.retract(stored.slug).outcome is UpsertOutcome.UNCHANGED


def test_published_between_is_a_half_open_window(store: Store) -> None:
    for i in range(3):
        store.articles.upsert(article(title=f"S{i}", published_at=T0 + timedelta(hours=i)))
    window = store.articles.published_between(T0, T0 + timedelta(hours=2))
    assert [a.title for a in window] == ["S2", "S1"]


def test_categories_are_shared_and_listed(store: Store) -> None:
    store.articles.upsert(article(title="A", categories=(LOCAL, SPORT)))
    store.articles.upsert(article(title="B", categories=(SPORT,)))
    assert store.articles.categories() == [LOCAL, SPORT]
    assert store.articles.get("a").categories == (LOCAL, SPORT)


def test_unicode_and_large_content_round_trip(store: Store) -> None:
    body = "<p>" + "Ünïcødé — 東京 🚀 " * 50_000 + "</p>"
    stored = store.articles.upsert(article(title="Ελληνικά עברית", content_html=body)).article
    again = store.articles.get(stored.id)
    assert again.content_html == body
    assert again.title == "Ελληνικά עברית"


def test_migration_is_idempotent(store: Store) -> None:
    store.migrate()
    assert not store.needs_migration()


def test_missing_sqlite_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no database at .*x\.db: run `publisher init`"):
        open_store(f"sqlite:///{tmp_path / 'nope' / 'x.db'}")


def test_unreachable_postgres_is_one_line() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("cannot migrate the database")


def test_sqlite_runs_in_wal_mode(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_r3_a_slug_edit_on_reimport_moves_the_derived_url_and_keeps_the_guid(
    store: Store,
) -> None:
    """Review finding: a slug-only edit was "unchanged" and ignored, and with other edits the
    made-up URL kept the old slug (feeds linked to a page that no longer answered)."""
    first = store.articles.upsert(article(guid="story-123", slug="first-slug")).article
    assert first.url == "https://news.example.org/articles/first-slug"
    renamed = store.articles.upsert(article(guid="story-123", slug="second-slug"))
    assert renamed.outcome is UpsertOutcome.UPDATED
    assert renamed.article.slug == "second-slug"
    assert renamed.article.url == "https://news.example.org/articles/second-slug"
    assert renamed.article.guid == "story-123" and renamed.article.id == first.id
    again = store.articles.upsert(article(guid="story-123", slug="second-slug"))
    assert again.outcome is UpsertOutcome.UNCHANGED
    given = store.articles.upsert(
        article(guid="story-123", slug="third-slug", url="https://news.example.org/2026/x")
    ).article
    kept = store.articles.upsert(article(guid="story-123", slug="fourth-slug")).article
    assert given.url == kept.url == "https://news.example.org/2026/x"
    assert kept.slug == "fourth-slug"


def test_a_key_naming_two_articles_is_read_predictably_and_never_retracts_a_guess(
    store: Store,
) -> None:
    """Review finding: with an article whose slug is "2" and another whose id is 2, get("2")
    and retract("2") took whichever row the database returned first."""
    store.articles.upsert(article("First"))
    second = store.articles.upsert(article("Second")).article
    numbered = store.articles.upsert(article("2")).article
    assert numbered.slug == str(second.id)
    assert store.articles.get(str(second.id)).id == numbered.id  # slug before id
    assert store.articles.get(numbered.guid).id == numbered.id
    with pytest.raises(StoreError, match="names more than one article"):
        store.articles.retract(str(second.id))
    assert not store.articles.get(second.guid).retracted
    assert not store.articles.get(numbered.guid).retracted
    assert store.articles.retract(numbered.guid).article.retracted


def test_the_head_read_from_the_migration_files_is_alembics_head(tmp_path: Path) -> None:
    """Opening a store skips alembic when the database is at the newest migration; that
    newest id is read from the files' own lines, so it must be the one alembic computes."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from publisher.store.engine import MIGRATIONS, head_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()
    store = open_store(f"sqlite:///{tmp_path / 'new.db'}", create=True)
    assert not store.needs_migration()  # a new file is migrated to that head
    store.close()


def test_storing_a_file_reads_only_through_indexes(sqlite_store: Store) -> None:
    """An import must not re-read the article table for each file (that makes it slower
    with every article stored): every query an upsert runs, for a new file, a changed one
    and a file at a known URL, is answered from an index (SQLite's plan has no full scan)."""
    for i in range(50):
        sqlite_store.articles.upsert(
            article(f"Story {i}", source=f"news/{i}.md", source_key=f"news/{i}.md")
        )
    seen: list[tuple[str, object]] = []

    def capture(conn: object, cursor: object, statement: str, parameters: object, *_: object):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(sqlite_store.engine, "before_cursor_execute", capture)
    try:
        with sqlite_store.articles.batch() as batch:
            batch.upsert(article("Story 60", source="news/60.md", source_key="news/60.md"))
            batch.upsert(article("Story 7, revised", source="news/7.md", source_key="news/7.md"))
            batch.upsert(
                article(
                    "Moved story",
                    source="old/8.md",
                    source_key="old/8.md",
                    url="https://elsewhere.example/8",
                )
            )
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", capture)
    assert seen
    with sqlite_store.engine.connect() as conn:
        for statement, parameters in seen:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            steps = [str(row[-1]) for row in plan]
            assert not [s for s in steps if s.startswith("SCAN")], (statement, steps)


def test_the_ledger_has_no_foreign_key_checks_on_postgresql(store: Store) -> None:
    """Migration 0022: on PostgreSQL the ledger's rows are not checked against subscribers
    and editions (two triggers per planned row, half of a million-reader plan); SQLite
    keeps its constraints. Erasing a reader with ledger rows keeps their (anonymised)
    subscriber row either way, so every ledger row still names one."""
    from sqlalchemy import inspect

    keys = inspect(store.engine).get_foreign_keys("deliveries")
    if store.engine.dialect.name == "postgresql":
        assert keys == []
    else:
        assert {k["referred_table"] for k in keys} == {"editions", "subscribers"}
