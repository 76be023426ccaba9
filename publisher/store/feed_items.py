"""The queries feeds need: a window of the newest articles, archive months, change times.

Kept apart from :mod:`publisher.store.articles` because their shape follows the feeds (a
category scope, "visible at a moment", light rows for archive pages that carry no body).
Hydration (categories, authors) is shared with the article repository.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from publisher.store.articles import ArticleRepository
from publisher.store.engine import translate_errors
from publisher.store.schema import article_categories, articles, categories
from publisher.types import Article, Category


def _aware(value: Any) -> datetime | None:
    """A MIN/MAX result: the column type already made it an aware UTC datetime."""
    if value is None or isinstance(value, datetime):
        return value
    raise TypeError(f"expected a datetime, got {type(value).__name__}")  # pragma: no cover


def _light_article(row: Any, cats: list[Category]) -> Article:
    """An article without its body: archive pages carry title, summary and link only."""
    return Article(
        id=row.id,
        guid=row.guid,
        slug=row.slug,
        url=row.url,
        title=row.title,
        summary=row.summary,
        content_html="",
        published_at=row.published_at,
        updated_at=row.updated_at,
        authors=tuple(json.loads(row.authors)),
        categories=tuple(cats),
        image_url=row.image_url,
        image_alt=row.image_alt,
        source=row.source,
        retracted=bool(row.retracted),
        language=row.language,
    )


class FeedItemRepository:
    """Read-only views of the articles for feed generation (each call one connection)."""

    def __init__(self, engine: Engine, articles_repo: ArticleRepository) -> None:
        self._engine = engine
        self._articles = articles_repo

    def _scope(self, category: str | None, now: datetime) -> list[Any]:
        conditions: list[Any] = [articles.c.published_at <= now]
        if category is not None:
            conditions.append(
                articles.c.id.in_(
                    select(article_categories.c.article_id)
                    .join(categories, categories.c.id == article_categories.c.category_id)
                    .where(categories.c.slug == category)
                )
            )
        return conditions

    def window(self, category: str | None, now: datetime, limit: int) -> list[Article]:
        """The newest ``limit`` visible, non-retracted articles, newest first."""
        return self._articles.newest(limit=limit, category=category, published_before=now)

    def first_archived(self, category: str | None, now: datetime, skip: int) -> Article | None:
        """The newest article that is not in the window of ``skip`` (the archive boundary)."""
        found = self._articles.newest(limit=1, category=category, published_before=now, offset=skip)
        return found[0] if found else None

    def oldest_published(self, category: str | None, now: datetime) -> datetime | None:
        query = select(func.min(articles.c.published_at)).where(
            *self._scope(category, now), articles.c.retracted.is_(False)
        )
        with translate_errors("cannot read articles"), self._engine.connect() as conn:
            value = conn.execute(query).scalar()
        return _aware(value)

    def archived_in(
        self,
        category: str | None,
        now: datetime,
        start: datetime,
        end: datetime,
        boundary: Article,
    ) -> list[Article]:
        """Articles of [start, end) at or older than ``boundary``, newest first, no bodies."""
        older = or_(
            articles.c.published_at < boundary.published_at,
            and_(articles.c.published_at == boundary.published_at, articles.c.id <= boundary.id),
        )
        columns = [c for c in articles.c if c.name != "content"]
        query = (
            select(*columns)
            .where(
                *self._scope(category, now),
                articles.c.retracted.is_(False),
                articles.c.published_at >= start,
                articles.c.published_at < end,
                older,
            )
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
        )
        with translate_errors("cannot list articles"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
            cats = self._articles._categories_of(conn, [r.id for r in rows])
        return [_light_article(r, cats.get(r.id, [])) for r in rows]

    def retracted_change(
        self,
        category: str | None,
        now: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> datetime | None:
        """When the newest retraction in scope happened (a feed changes when items leave it)."""
        conditions = [*self._scope(category, now), articles.c.retracted.is_(True)]
        if start is not None:
            conditions.append(articles.c.published_at >= start)
        if end is not None:
            conditions.append(articles.c.published_at < end)
        query = select(func.max(articles.c.updated_at)).where(*conditions)
        with translate_errors("cannot read articles"), self._engine.connect() as conn:
            value = conn.execute(query).scalar()
        return _aware(value)

    def categories(self) -> list[Category]:
        return self._articles.categories()

    def due_between(self, after: datetime, until: datetime) -> list[Article]:
        return self._articles.due_between(after, until)
