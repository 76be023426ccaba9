"""Which feeds a change touches (pure): the site feed and each category the article is or was in.

Readers merge items by guid across feeds, so a change is written to every feed that carries
the article, and only to those: the site-wide feed set and one set per touched category.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from publisher.feeds.archive import month_key
from publisher.types import Article, UpsertOutcome, UpsertResult


@dataclass
class Touched:
    """Feeds to rebuild: ``None`` stands for the site feed; months whose archive may change."""

    slugs: list[str | None] = field(default_factory=list)
    months: set[str] = field(default_factory=set)


def touched_by(results: Iterable[UpsertResult]) -> Touched:
    """The site feed, plus every category slug in any result, in a stable order."""
    touched = Touched(slugs=[None])
    seen: set[str] = set()
    for result in results:
        for slug in result.touched_categories + tuple(c.slug for c in result.article.categories):
            if slug not in seen:
                seen.add(slug)
                touched.slugs.append(slug)
        touched.months.add(month_key(result.article.published_at))
    return touched


def touched_by_articles(articles: Iterable[Article]) -> Touched:
    """The feeds that carry these articles (scheduled ones whose time came)."""
    return touched_by(UpsertResult(a, UpsertOutcome.UPDATED) for a in articles)
