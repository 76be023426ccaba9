"""Articles and categories: upsert by permanent guid, lookups, listings, retraction.

Identity rules (they make feeds trustworthy), in order:

1. A source that gives a guid is the article with that guid.
2. Without a guid, a file is the article stored from the same source (its path relative
   to the import root, ``source_key``), else the article at its canonical URL (a moved
   file keeps its story), else an article imported before sources were recorded whose
   slug and file name match (it is adopted). Never by title alone: two files with the
   same title are two articles, the second slugged ``-2``; a title edit updates.
3. A source without a path (the API, standard input) is found by its URL or its slug,
   given or derived from the title.

An explicit slug that another article holds is refused; a derived one that is taken gets
``-2``, ``-3``... The guid never changes once assigned; an article without one gets an
opaque ``urn:uuid:`` guid. ``updated_at`` moves only when what readers see changed, so
re-importing the same file is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from publisher.exceptions import IngestError, NotFound, StoreError
from publisher.store.engine import inserted_id, translate_errors, write_transaction
from publisher.store.schema import article_categories, articles, categories
from publisher.text import slugify
from publisher.types import Article, ArticleInput, Category, UpsertOutcome, UpsertResult

# Statements built once: building a Core statement per call (coercing every value) cost
# more than running it. Values travel as bound parameters.
_BY_GUID = select(articles).where(articles.c.guid == bindparam("guid"))
_HOLDER_OF_SLUG = select(
    articles.c.id, articles.c.guid, articles.c.source, articles.c.source_key
).where(articles.c.slug == bindparam("slug"))
# The range ``low`` .. ``high`` holds a slug and every ``slug-N`` (see _free_slug).
_IN_SLUG_RANGE = and_(articles.c.slug >= bindparam("low"), articles.c.slug < bindparam("high"))
_SLUG_RANGE = select(articles.c.slug).where(_IN_SLUG_RANGE)
# A file's identity and, for a new file, the slugs its wanted slug would clash with, in one
# indexed query (an OR of the source key, the URL and the slug range).
_BY_SOURCE = select(articles).where(or_(articles.c.source_key == bindparam("key"), _IN_SLUG_RANGE))
_BY_SOURCE_OR_URL = select(articles).where(
    or_(
        articles.c.source_key == bindparam("key"),
        articles.c.url == bindparam("url"),
        _IN_SLUG_RANGE,
    )
)
_INSERT_ARTICLE = insert(articles)
_INSERT_LINKS = insert(article_categories)
_INSERT_CATEGORY = insert(categories)
_CATEGORY_IDS = select(categories.c.slug, categories.c.id).where(
    categories.c.slug.in_(bindparam("slugs", expanding=True))
)


def content_hash(item: ArticleInput, url: str) -> str:
    """A digest of everything a reader sees; equal digests mean nothing to update."""
    visible = {
        "title": item.title,
        "summary": item.summary,
        "content": item.content_html,
        "authors": list(item.authors),
        "categories": [[c.slug, c.name] for c in item.categories],
        "image": [item.image_url, item.image_alt],
        "url": url,
        "published": item.published_at.astimezone(UTC).isoformat(),
    }
    if item.language:  # only when given: older rows' digests stay equal
        visible["language"] = item.language
    data = json.dumps(visible, sort_keys=True, ensure_ascii=False).encode("utf-8", "replace")
    return hashlib.sha256(data).hexdigest()


_SAVEPOINT = "SAVEPOINT article"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT article"
_RELEASE = "RELEASE SAVEPOINT article"


class ArticleBatch:
    """Upserts on one connection: each article in its own savepoint, committed in groups.

    A failed article rolls back to its own savepoint only, so the rest of the batch still
    goes in and nothing stored before is touched. Committing every ``commit_every``
    articles (and at the end) instead of once per file halves the cost of an import; an
    import interrupted before a commit is simply run again (upserts are idempotent).
    """

    def __init__(self, repository: ArticleRepository, conn: Connection, commit_every: int):
        self._repository = repository
        self._conn = conn
        self._commit_every = commit_every
        self._pending = 0
        # Category ids seen on this connection: an import names the same few categories
        # thousands of times, so each is looked up once per batch, not once per article.
        # Categories are never deleted; an id learnt inside a savepoint that rolled back
        # may not exist, so the whole cache is dropped then.
        self._category_ids: dict[str, int] = {}

    def upsert(self, item: ArticleInput, now: datetime | None = None) -> UpsertResult:
        now = now or datetime.now(UTC)
        with translate_errors("cannot store the article"):
            for attempt in range(3):
                try:
                    with self._savepoint():
                        result = self._repository._upsert(self._conn, item, now, self._category_ids)
                    break
                except IntegrityError:
                    # A concurrent writer took the slug or guid between our read and write;
                    # the next round sees its row and updates or picks another slug.
                    self._category_ids.clear()
                    if attempt == 2:
                        raise
                except BaseException:
                    self._category_ids.clear()
                    raise
            self._pending += 1
            if self._pending >= self._commit_every:
                self.commit()
            return result

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        """One article's savepoint, in SQL both dialects speak.

        SQLAlchemy's ``begin_nested`` compiles its SAVEPOINT and RELEASE afresh for every
        article (a third of the cost of storing one); these plain statements skip that.
        The connection begins its transaction (``BEGIN IMMEDIATE`` on SQLite) first.
        """
        self._conn.exec_driver_sql(_SAVEPOINT)
        try:
            yield
        except BaseException:
            # Back to where this article began (also un-aborts a PostgreSQL transaction).
            self._conn.exec_driver_sql(_ROLLBACK_TO)
            self._conn.exec_driver_sql(_RELEASE)
            raise
        self._conn.exec_driver_sql(_RELEASE)

    def commit(self) -> None:
        if self._conn.in_transaction():
            self._conn.commit()
        self._pending = 0


class ArticleRepository:
    """Reads and writes articles; every write is atomic per article."""

    def __init__(self, engine: Engine, site_url: str) -> None:
        self._engine = engine
        self._site_url = site_url.rstrip("/")

    # --- writing ----------------------------------------------------------------------------

    def upsert(self, item: ArticleInput, now: datetime | None = None) -> UpsertResult:
        """Insert or update one article in its own transaction; never creates a duplicate."""
        with self.batch(commit_every=1) as batch:
            return batch.upsert(item, now)

    @contextmanager
    def batch(self, commit_every: int = 200) -> Iterator[ArticleBatch]:
        """Upsert many articles on one connection (see :class:`ArticleBatch`)."""
        with (
            translate_errors("cannot store the article"),
            # Upserts read before they write: take SQLite's write lock at BEGIN so a
            # concurrent writer makes us wait instead of failing (see write_transaction).
            self._engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn,
        ):
            batch = ArticleBatch(self, conn, commit_every)
            yield batch
            batch.commit()

    def _upsert(
        self, conn: Connection, item: ArticleInput, now: datetime, known: dict[str, int]
    ) -> UpsertResult:
        """``known``: category ids already read on ``conn`` (slug to id), added to here."""
        existing = self._find_existing(conn, item)
        if isinstance(existing, set):
            return self._insert(conn, item, now, known, taken=existing)
        if existing is None:
            return self._insert(conn, item, now, known)
        return self._update(conn, existing, item, now, known)

    def _find_existing(self, conn: Connection, item: ArticleInput) -> Row[Any] | set[str] | None:
        """The stored row this item updates, if any (see the module docstring for the order);
        for a new file, the slugs its wanted slug would clash with instead."""
        if item.guid:
            return conn.execute(_BY_GUID, {"guid": item.guid}).first()
        if item.source_key:
            return self._by_source(conn, item)
        # No path (the API, standard input): the slug, given or derived, or the URL.
        wanted = item.slug or slugify(item.title)
        conditions = [articles.c.slug == wanted]
        if item.url:
            conditions.append(articles.c.url == item.url)
        return conn.execute(select(articles).where(or_(*conditions)).limit(1)).first()

    def _by_source(self, conn: Connection, item: ArticleInput) -> Row[Any] | set[str]:
        """The row stored from the same source, else the one at the same canonical URL,
        else a row imported before sources were recorded that the old rule would match;
        else the taken slugs from ``wanted`` to ``wanted-N`` (one query finds all of them)."""
        wanted = item.slug or slugify(item.title)
        values = {"key": item.source_key, "low": wanted, "high": f"{wanted}."}
        if item.url:
            rows = conn.execute(_BY_SOURCE_OR_URL, {**values, "url": item.url}).all()
        else:
            rows = conn.execute(_BY_SOURCE, values).all()
        for row in rows:
            if row.source_key == item.source_key:
                return row
        for row in rows:
            if item.url and row.url == item.url:
                return row  # the file moved but keeps its canonical URL: the same story
        # What is left is the slug range.
        path = (item.source_key or "").split("#", 1)[0]
        for row in rows:
            adopted = row.source == path or row.source.endswith("/" + path)
            if row.slug == wanted and row.source_key is None and adopted:
                return row
        return {row.slug for row in rows}

    def _explicit_slug(self, conn: Connection, item: ArticleInput, own_id: int | None) -> str:
        """The slug a source asks for, refused when another article holds it: two stories
        must not fight over one URL, and quietly adding ``-2`` would ignore what was asked."""
        assert item.slug is not None
        holder = conn.execute(_HOLDER_OF_SLUG, {"slug": item.slug}).first()
        if holder is not None and holder.id != own_id:
            held_by = holder.source_key or holder.source or holder.guid
            raise IngestError(
                f"slug {item.slug!r} already belongs to another article ({held_by});"
                " give a different slug",
                path=item.source or None,
            )
        return item.slug

    def _free_slug(self, conn: Connection, wanted: str, taken: set[str] | None = None) -> str:
        """``wanted`` if free, else ``wanted-2``, ``wanted-3`` ... (one indexed query, unless
        the caller read ``taken`` already).

        The range ``wanted`` .. ``wanted.`` covers ``wanted`` and every ``wanted-...``
        ('.' sorts right after '-'), so the unique index on slug answers it.
        """
        if taken is None:
            rows = conn.execute(_SLUG_RANGE, {"low": wanted, "high": f"{wanted}."}).all()
            taken = {r.slug for r in rows}
        if wanted not in taken:
            return wanted
        n = 2
        while f"{wanted}-{n}" in taken:
            n += 1
        return f"{wanted}-{n}"

    def _insert(
        self,
        conn: Connection,
        item: ArticleInput,
        now: datetime,
        known: dict[str, int],
        taken: set[str] | None = None,
    ) -> UpsertResult:
        if item.slug:
            slug = self._explicit_slug(conn, item, None)
        else:
            slug = self._free_slug(conn, slugify(item.title), taken)
        url = item.url or f"{self._site_url}/articles/{slug}"
        guid = item.guid or f"urn:uuid:{uuid.uuid4()}"
        updated_at = item.updated_at or item.published_at
        result = conn.execute(
            _INSERT_ARTICLE,
            {
                "guid": guid,
                "slug": slug,
                "url": url,
                "title": item.title,
                "summary": item.summary,
                "content": item.content_html,
                "authors": json.dumps(list(item.authors), ensure_ascii=False),
                "image_url": item.image_url,
                "image_alt": item.image_alt,
                "language": item.language,
                "published_at": item.published_at,
                "updated_at": updated_at,
                "created_at": now,
                "source": item.source,
                "retracted": False,
                "content_hash": content_hash(item, url),
                # With a guid, the guid is the identity; two items of one file may share a
                # source, so only guid-less articles claim theirs.
                "source_key": None if item.guid else item.source_key,
            },
        )
        article_id = inserted_id(result)
        self._link_categories(conn, article_id, item.categories, known)
        # Built from what was just written: re-reading it would double the cost of a write.
        article = Article(
            id=article_id,
            guid=guid,
            slug=slug,
            url=url,
            title=item.title,
            summary=item.summary,
            content_html=item.content_html,
            published_at=item.published_at.astimezone(UTC),
            updated_at=updated_at.astimezone(UTC),
            authors=item.authors,
            categories=item.categories,
            image_url=item.image_url,
            image_alt=item.image_alt,
            source=item.source,
            language=item.language,
        )
        touched = tuple(c.slug for c in item.categories)
        return UpsertResult(article, UpsertOutcome.CREATED, touched)

    def _update(
        self,
        conn: Connection,
        row: Row[Any],
        item: ArticleInput,
        now: datetime,
        known: dict[str, int],
    ) -> UpsertResult:
        slug = row.slug
        if item.slug and item.slug != row.slug:
            slug = self._explicit_slug(conn, item, row.id)
        source_key = row.source_key
        if not item.guid and item.source_key:
            source_key = item.source_key  # adopted (an older row) or moved (same URL)
        # A URL we made from the slug follows a slug edit; a URL the source gave stays.
        derived = f"{self._site_url}/articles/"
        url = item.url or (derived + slug if row.url == derived + row.slug else row.url)
        digest = content_hash(item, url)
        before = tuple(c.slug for c in self._categories_of(conn, [row.id])[row.id])
        if (
            digest == row.content_hash
            and slug == row.slug
            and source_key == row.source_key
            and not row.retracted
        ):
            return UpsertResult(self._load(conn, articles.c.id == row.id), UpsertOutcome.UNCHANGED)
        updated_at = item.updated_at or now
        if updated_at < row.updated_at:
            updated_at = now
        conn.execute(
            update(articles)
            .where(articles.c.id == row.id)
            .values(
                slug=slug,
                url=url,
                title=item.title,
                summary=item.summary,
                content=item.content_html,
                authors=json.dumps(list(item.authors), ensure_ascii=False),
                image_url=item.image_url,
                image_alt=item.image_alt,
                language=item.language,
                published_at=item.published_at,
                updated_at=updated_at,
                source=item.source or row.source,
                retracted=False,
                content_hash=digest,
                source_key=source_key,
            )
        )
        conn.execute(delete(article_categories).where(article_categories.c.article_id == row.id))
        self._link_categories(conn, row.id, item.categories, known)
        now_slugs = tuple(c.slug for c in item.categories)
        touched = tuple(dict.fromkeys(now_slugs + before))
        return UpsertResult(
            self._load(conn, articles.c.id == row.id), UpsertOutcome.UPDATED, touched
        )

    def _link_categories(
        self, conn: Connection, article_id: int, cats: Sequence[Category], known: dict[str, int]
    ) -> None:
        if not cats:
            return
        ids = self._ensure_categories(conn, cats, known)
        conn.execute(
            _INSERT_LINKS,
            [
                {"article_id": article_id, "category_id": ids[c.slug], "position": i}
                for i, c in enumerate(cats)
            ],
        )

    def _ensure_categories(
        self, conn: Connection, cats: Sequence[Category], known: dict[str, int]
    ) -> dict[str, int]:
        """Ids of ``cats`` (created when new), read through and added to ``known``."""
        slugs = [c.slug for c in cats if c.slug not in known]
        if slugs:
            known.update((r.slug, r.id) for r in conn.execute(_CATEGORY_IDS, {"slugs": slugs}))
        for cat in cats:
            if cat.slug not in known:
                result = conn.execute(_INSERT_CATEGORY, {"slug": cat.slug, "name": cat.name})
                known[cat.slug] = inserted_id(result)
        return known

    def retract(self, key: str | int, now: datetime | None = None) -> UpsertResult:
        """Mark an article retracted: feeds drop it, the history keeps it."""
        now = now or datetime.now(UTC)
        with (
            translate_errors("cannot retract the article"),
            write_transaction(self._engine) as conn,
        ):
            self._refuse_ambiguous(conn, key)
            article = self._load(conn, self._key_condition(key), key)
            before = tuple(c.slug for c in article.categories)
            if article.retracted:
                return UpsertResult(article, UpsertOutcome.UNCHANGED, before)
            conn.execute(
                update(articles)
                .where(articles.c.id == article.id)
                .values(retracted=True, updated_at=max(now, article.updated_at))
            )
            return UpsertResult(
                self._load(conn, articles.c.id == article.id), UpsertOutcome.UPDATED, before
            )

    # --- reading ------------------------------------------------------------------------------

    def get(self, key: str | int) -> Article:
        """An article by id, guid or slug; NotFound otherwise."""
        with translate_errors("cannot read the article"), self._engine.connect() as conn:
            return self._load(conn, self._key_condition(key), key)

    def _key_condition(self, key: str | int) -> Any:
        text = str(key)
        conditions = [articles.c.guid == text, articles.c.slug == text]
        if text.isdigit():
            conditions.append(articles.c.id == int(text))
        return or_(*conditions)

    def _key_order(self, key: str | int) -> Any:
        """When a key names several articles (slug "2" and id 2): guid, then slug, then id."""
        text = str(key)
        return case((articles.c.guid == text, 0), (articles.c.slug == text, 1), else_=2)

    def _refuse_ambiguous(self, conn: Connection, key: str | int) -> None:
        """A destructive command must not guess which of two articles a key meant."""
        rows = conn.execute(select(articles.c.id).where(self._key_condition(key)).limit(2)).all()
        if len(rows) > 1:
            raise StoreError(
                f"{str(key)!r} names more than one article (an id and a guid or slug);"
                " give the guid or the slug"
            )

    def _load(self, conn: Connection, condition: Any, key: object = None) -> Article:
        query = select(articles).where(condition)
        if key is not None and isinstance(key, str | int):
            query = query.order_by(self._key_order(key))
        row = conn.execute(query.limit(1)).first()
        if row is None:
            raise NotFound("article", key)
        return self._hydrate(conn, [row])[0]

    def _categories_of(self, conn: Connection, ids: Sequence[int]) -> dict[int, list[Category]]:
        result: dict[int, list[Category]] = {i: [] for i in ids}
        if not ids:
            return result
        query = (
            select(article_categories.c.article_id, categories.c.slug, categories.c.name)
            .join(categories, categories.c.id == article_categories.c.category_id)
            .where(article_categories.c.article_id.in_(ids))
            .order_by(article_categories.c.article_id, article_categories.c.position)
        )
        for r in conn.execute(query):
            result[r.article_id].append(Category(r.slug, r.name))
        return result

    def _hydrate(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[Article]:
        cats: dict[int, list[Category]] = {}
        ids = [r.id for r in rows]
        for start in range(0, len(ids), 500):
            cats.update(self._categories_of(conn, ids[start : start + 500]))
        return [
            Article(
                id=r.id,
                guid=r.guid,
                slug=r.slug,
                url=r.url,
                title=r.title,
                summary=r.summary,
                content_html=r.content,
                published_at=r.published_at,
                updated_at=r.updated_at,
                authors=tuple(json.loads(r.authors)),
                categories=tuple(cats.get(r.id, ())),
                image_url=r.image_url,
                image_alt=r.image_alt,
                source=r.source,
                retracted=bool(r.retracted),
                language=r.language,
            )
            for r in rows
        ]

    def newest(
        self,
        limit: int | None = 50,
        category: str | None = None,
        published_before: datetime | None = None,
        include_retracted: bool = False,
        offset: int = 0,
    ) -> list[Article]:
        """Articles newest first. ``published_before`` hides scheduled ones (pass now)."""
        query = select(articles)
        if category:
            query = query.where(
                articles.c.id.in_(
                    select(article_categories.c.article_id)
                    .join(categories, categories.c.id == article_categories.c.category_id)
                    .where(categories.c.slug == category)
                )
            )
        if published_before is not None:
            query = query.where(articles.c.published_at <= published_before)
        if not include_retracted:
            query = query.where(articles.c.retracted.is_(False))
        query = query.order_by(articles.c.published_at.desc(), articles.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with translate_errors("cannot list articles"), self._engine.connect() as conn:
            return self._hydrate(conn, conn.execute(query).all())

    def by_ids(self, ids: Iterable[int]) -> list[Article]:
        """Articles with these ids, in the order given (missing ids are skipped)."""
        wanted = list(ids)
        if not wanted:
            return []
        with translate_errors("cannot read articles"), self._engine.connect() as conn:
            rows = conn.execute(select(articles).where(articles.c.id.in_(wanted))).all()
            found = {a.id: a for a in self._hydrate(conn, rows)}
        return [found[i] for i in wanted if i in found]

    def published_between(
        self, after: datetime | None, until: datetime, include_retracted: bool = False
    ) -> list[Article]:
        """Articles published in (after, until], newest first."""
        return self._between(articles.c.published_at, after, until, include_retracted)

    def available_between(
        self, after: datetime | None, until: datetime, dated_after: datetime
    ) -> list[Article]:
        """Articles that became available in (after, until], dated after ``dated_after``.

        The content of an edition. Available means in the store and published: the later of
        when the article entered the store (``created_at``) and its dateline
        (``published_at``, later for a scheduled article). So an article imported after an
        edition's cutoff but dated before it goes in the next edition instead of never,
        while one dated before ``dated_after`` (``digest.max_age_days``) is old news and
        is not mailed at all. Newest dateline first; retracted articles never.
        """
        available = case(
            (articles.c.created_at > articles.c.published_at, articles.c.created_at),
            else_=articles.c.published_at,
        )
        found = self._between(available, after, until, False, articles.c.published_at > dated_after)
        return found

    def _between(
        self,
        moment: Any,
        after: datetime | None,
        until: datetime,
        include_retracted: bool,
        *extra: Any,
    ) -> list[Article]:
        query = select(articles).where(moment <= until, *extra)
        if after is not None:
            query = query.where(moment > after)
        if not include_retracted:
            query = query.where(articles.c.retracted.is_(False))
        query = query.order_by(articles.c.published_at.desc(), articles.c.id.desc())
        with translate_errors("cannot list articles"), self._engine.connect() as conn:
            return self._hydrate(conn, conn.execute(query).all())

    def categories(self) -> list[Category]:
        """Every category, by name."""
        with translate_errors("cannot list categories"), self._engine.connect() as conn:
            rows = conn.execute(select(categories)).all()
        # Case-insensitively, so "c" sits next to "C++" rather than after "Sport".
        return sorted(
            (Category(r.slug, r.name) for r in rows), key=lambda c: (c.name.casefold(), c.slug)
        )

    def count(self, include_retracted: bool = False) -> int:
        query = select(func.count()).select_from(articles)
        if not include_retracted:
            query = query.where(articles.c.retracted.is_(False))
        with translate_errors("cannot count articles"), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def due_between(self, after: datetime, until: datetime) -> list[Article]:
        """Scheduled articles whose time came in (after, until]: their feeds need a rebuild."""
        condition = and_(
            articles.c.published_at > after,
            articles.c.published_at <= until,
            articles.c.retracted.is_(False),
        )
        with translate_errors("cannot list articles"), self._engine.connect() as conn:
            rows = conn.execute(select(articles).where(condition)).all()
            return self._hydrate(conn, rows)
