"""What goes into an edition and who gets which version of it (pure functions, plain data).

An edition holds the articles published after the previous edition of its kind was cut, up
to its own cutoff: a window between two stored cutoffs, never a wall-clock "last 24 hours",
so nothing is skipped after downtime and nothing is sent twice. Readers who chose categories
get only those articles; readers who get the same set of articles share one *variant*, and
each variant is rendered once.

Decisions (see docs/digest.md):
- articles are ordered newest first; the cap keeps the newest ``max_articles`` and the rest
  is counted for the "more in the archive" link;
- an article is shown once, in the section of its first (primary) category, so a variant's
  layout depends on its article set alone and the variant key can be derived from that set;
- sections follow ``category_order``; categories not listed follow by name; articles without
  a category come last;
- no categories chosen means everything; a choice that matches nothing this time means no
  message at all for that reader;
- a reader's language comes first: articles in it (an article without a language is in the
  site's) are laid out before the rest, each group in the order above, and the cap keeps
  them first. So the variant a reader gets is (language, article set): the ledger names
  it ``language/key`` (see :func:`ledger_variant`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from publisher.i18n import base_language
from publisher.types import Article, Subscriber


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """The settings planning depends on (taken from ``digest.*`` by core)."""

    max_articles: int = 25
    category_order: tuple[str, ...] = ()
    language: str = ""
    """The site's language: the language of an article that names none."""


@dataclass(frozen=True, slots=True)
class Section:
    """Articles under one category heading; ``slug`` empty for articles without a category."""

    slug: str
    name: str
    articles: tuple[Article, ...]
    other_language: bool = False
    """In the second group: articles not in the reader's language (after theirs)."""


@dataclass(frozen=True, slots=True)
class Variant:
    """One version of an edition: an article set, laid out in sections, capped."""

    key: str
    article_ids: tuple[int, ...]
    sections: tuple[Section, ...]
    more: int = 0
    """Articles of the set left out by the cap (linked through the archive)."""

    @property
    def articles(self) -> tuple[Article, ...]:
        """The shown articles in reading order (section by section)."""
        return tuple(a for s in self.sections for a in s.articles)

    @property
    def total(self) -> int:
        return len(self.article_ids)


@dataclass(frozen=True, slots=True)
class Audience:
    """Variants of an edition and which subscriber gets which (absent: gets nothing)."""

    variants: dict[str, Variant] = field(default_factory=dict)
    assignments: dict[int, str] = field(default_factory=dict)

    def recipients_of(self, variant_key: str) -> list[int]:
        return [s for s, v in self.assignments.items() if v == variant_key]


def select_articles(
    articles: Iterable[Article], after: datetime | None, until: datetime
) -> tuple[Article, ...]:
    """Articles published in ``(after, until]``, retracted ones dropped, newest first."""
    chosen = [
        a
        for a in articles
        if not a.retracted and a.published_at <= until and (after is None or a.published_at > after)
    ]
    chosen.sort(key=lambda a: (a.published_at, a.id), reverse=True)
    return tuple(chosen)


def articles_for(articles: Iterable[Article], chosen: Iterable[str]) -> tuple[Article, ...]:
    """The articles a reader with these category choices gets (no choice: all of them)."""
    wanted = frozenset(chosen)
    if not wanted:
        return tuple(articles)
    return tuple(a for a in articles if any(c.slug in wanted for c in a.categories))


def choice_variant(articles: tuple[Article, ...], chosen: Iterable[str]) -> str | None:
    """The variant key of a reader with these choices; None when nothing matches them."""
    subset = articles_for(articles, chosen)
    return variant_key(a.id for a in subset) if subset else None


def variant_key(article_ids: Iterable[int]) -> str:
    """A short, stable name for an article set (the same in every process and run)."""
    ids = sorted(set(article_ids))
    digest = hashlib.sha256(",".join(map(str, ids)).encode("ascii")).hexdigest()[:12]
    return f"{len(ids)}a-{digest}"


def ledger_variant(language: str, key: str) -> str:
    """The ledger's name of a variant: the reader's language and the article set's key."""
    return f"{language}/{key}"


def language_of_variant(name: str | None, default: str) -> str:
    """The language a ledger variant was planned in (``default`` for rows without one)."""
    if name and "/" in name:
        return name.split("/", 1)[0] or default
    return default


def in_language(article: Article, language: str, site_language: str) -> bool:
    """Whether an article is written in ``language`` (no language of its own: the site's)."""
    own = article.language or site_language
    return bool(own) and base_language(own) == base_language(language)


def reader_first(
    articles: tuple[Article, ...], language: str, site_language: str
) -> tuple[tuple[Article, ...], tuple[Article, ...]]:
    """(articles in the reader's language, the rest), each keeping its order."""
    if not language:
        return articles, ()
    mine = tuple(a for a in articles if in_language(a, language, site_language))
    rest = tuple(a for a in articles if not in_language(a, language, site_language))
    return mine, rest


def _section_rank(slug: str, name: str, order: tuple[str, ...]) -> tuple[int, int, str]:
    if not slug:
        return (2, 0, "")
    if slug in order:
        return (0, order.index(slug), "")
    return (1, 0, name.casefold())


def layout(
    articles: tuple[Article, ...], options: PlanOptions, language: str = ""
) -> tuple[tuple[Section, ...], int]:
    """The reader's language first, cap to ``max_articles``, group into ordered sections.

    Returns the sections and how many articles the cap left out. With articles both in
    and out of the reader's language, the second group's sections follow the first's
    (``other_language``), each group in the usual order.
    """
    mine, rest = reader_first(articles, language, options.language)
    if not mine or not rest:
        return _sections(articles, options), max(len(articles) - options.max_articles, 0)
    first = mine[: options.max_articles]
    second = rest[: options.max_articles - len(first)]
    other = tuple(replace(s, other_language=True) for s in _sections(second, options))
    return _sections(first, options) + other, len(articles) - len(first) - len(second)


def _sections(articles: tuple[Article, ...], options: PlanOptions) -> tuple[Section, ...]:
    """Up to ``max_articles`` of these articles grouped into ordered sections."""
    shown = articles[: options.max_articles]
    groups: dict[str, list[Article]] = {}
    names: dict[str, str] = {}
    for article in shown:
        primary = article.categories[0] if article.categories else None
        slug = primary.slug if primary else ""
        groups.setdefault(slug, []).append(article)
        names.setdefault(slug, primary.name if primary else "")
    ordered = sorted(groups, key=lambda s: _section_rank(s, names[s], options.category_order))
    return tuple(Section(s, names[s], tuple(groups[s])) for s in ordered)


def build_variant(
    articles: tuple[Article, ...], options: PlanOptions, language: str = ""
) -> Variant:
    """The variant for one article set (already filtered, newest first) and language."""
    sections, more = layout(articles, options, language)
    ids = tuple(a.id for a in articles)
    return Variant(variant_key(ids), ids, sections, more)


def plan_audience(
    articles: tuple[Article, ...],
    subscribers: Iterable[Subscriber],
    options: PlanOptions,
    language: str = "",
) -> Audience:
    """Group subscribers by the article set they get; one variant per distinct set.

    ``articles`` are the edition's articles, newest first. Readers whose choice matches
    nothing in this edition are left out (no message). ``language``: the readers' (all of
    them: an edition is rendered per language), whose articles come first.
    """
    variants: dict[str, Variant] = {}
    by_choice: dict[frozenset[str], str | None] = {}
    assignments: dict[int, str] = {}
    for subscriber in subscribers:
        choice = frozenset(subscriber.categories)
        if choice not in by_choice:
            subset = articles_for(articles, choice)
            if not subset:
                by_choice[choice] = None
            else:
                key = variant_key(a.id for a in subset)
                if key not in variants:
                    variants[key] = build_variant(subset, options, language)
                by_choice[choice] = key
        assigned = by_choice[choice]
        if assigned is not None:
            assignments[subscriber.id] = assigned
    return Audience(variants, assignments)


def full_variant(
    articles: tuple[Article, ...], options: PlanOptions, language: str = ""
) -> Variant:
    """The variant of a reader who chose nothing (the archive copy, previews, test sends)."""
    return build_variant(articles, options, language)
