"""Planning an edition: period keys, the window, sections, the cap and variants (pure)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from digest_sample import SAMPLE_ISSUED, sample_articles

from publisher.digest import (
    PlanOptions,
    articles_for,
    frequency_of,
    is_period_key,
    period_key,
    plan_audience,
    select_articles,
)
from publisher.digest.plan import layout, variant_key
from publisher.types import Article, Category, Frequency, Subscriber

LONDON = ZoneInfo("Europe/London")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_daily_key_uses_the_site_time_zone() -> None:
    moment = at("2026-11-27T23:30:00")
    assert period_key(Frequency.DAILY, moment, LONDON) == "daily/2026-11-27"
    assert period_key(Frequency.DAILY, moment, AUCKLAND) == "daily/2026-11-28"


def test_weekly_key_is_the_iso_week() -> None:
    assert period_key(Frequency.WEEKLY, at("2026-11-27T12:00:00"), LONDON) == "weekly/2026-W48"
    # 1 January 2027 is a Friday: it belongs to the last ISO week of 2026.
    assert period_key(Frequency.WEEKLY, at("2027-01-01T12:00:00"), LONDON) == "weekly/2026-W53"
    assert period_key(Frequency.WEEKLY, at("2027-01-04T12:00:00"), LONDON) == "weekly/2027-W01"


def test_period_key_refuses_naive_times_and_parses_back() -> None:
    with pytest.raises(ValueError):
        period_key(Frequency.DAILY, datetime(2026, 11, 27), LONDON)
    assert is_period_key("weekly/2026-W48") and not is_period_key("daily/../../etc")
    assert frequency_of("daily/2026-11-27") is Frequency.DAILY
    with pytest.raises(ValueError):
        frequency_of("monthly/2026-11")


def test_window_is_after_previous_cutoff_up_to_own_cutoff_newest_first() -> None:
    articles = sample_articles(6)
    after = articles[4].published_at  # strictly after: article 5 is out
    until = articles[1].published_at  # inclusive: article 2 is in
    chosen = select_articles(reversed(articles), after, until)
    assert [a.id for a in chosen] == [2, 3, 4]
    retracted = dataclasses.replace(articles[2], retracted=True)
    assert [a.id for a in select_articles([*articles[:2], retracted], None, SAMPLE_ISSUED)] == [
        1,
        2,
    ]


def test_sections_follow_the_configured_order_then_names_then_uncategorised() -> None:
    base = sample_articles(1)[0]

    def art(i: int, *cats: Category) -> Article:
        moment = SAMPLE_ISSUED - timedelta(minutes=i)
        return dataclasses.replace(base, id=i, categories=cats, published_at=moment)

    sport, arts, zoo, news = (
        Category("sport", "Sport"),
        Category("arts", "Arts"),
        Category("zoo", "Zoo"),
        Category("news", "News"),
    )
    articles = (art(1, zoo), art(2), art(3, sport, news), art(4, arts), art(5, news))
    sections, more = layout(articles, PlanOptions(10, ("news", "sport")))
    assert [(s.slug, [a.id for a in s.articles]) for s in sections] == [
        ("news", [5]),
        ("sport", [3]),  # primary (first) category decides the section
        ("arts", [4]),
        ("zoo", [1]),
        ("", [2]),
    ]
    assert more == 0


def test_cap_keeps_the_newest_and_counts_the_rest() -> None:
    articles = sample_articles(12)
    sections, more = layout(articles, PlanOptions(5, ()))
    shown = sorted(a.id for s in sections for a in s.articles)
    assert shown == [1, 2, 3, 4, 5] and more == 7


def test_no_choice_gets_everything_and_equal_sets_share_a_variant() -> None:
    articles = sample_articles(10)  # categories cycle local, politics, environment, sport, culture
    readers = [
        Subscriber(1, "a@x.org"),
        Subscriber(2, "b@x.org", categories=("sport",)),
        Subscriber(3, "c@x.org", categories=("sport", "unknown")),
        Subscriber(4, "d@x.org", categories=("nothing-here",)),
        Subscriber(5, "e@x.org", categories=tuple(c.slug for a in articles for c in a.categories)),
    ]
    audience = plan_audience(articles, readers, PlanOptions())
    assert audience.assignments[2] == audience.assignments[3]
    assert audience.assignments[1] == audience.assignments[5]  # same set as "everything"
    assert 4 not in audience.assignments
    assert len(audience.variants) == 2
    sport = audience.variants[audience.assignments[2]]
    assert {c.slug for a in sport.articles for c in a.categories} == {"sport"}
    assert sorted(audience.recipients_of(sport.key)) == [2, 3]
    assert articles_for(articles, ()) == articles


def test_variant_key_depends_on_the_article_set_only() -> None:
    assert variant_key([3, 1, 2]) == variant_key([1, 2, 3, 3])
    assert variant_key([1, 2]) != variant_key([1, 3])
    assert len(variant_key(range(1000))) <= 64  # fits deliveries.variant
