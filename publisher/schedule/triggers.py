"""When each job fires: cron triggers in the site's zone, built from the settings.

Everything here is pure (settings in, triggers and times out), so the daylight-saving
behaviour is tested without a running scheduler. Bad settings (``25:00``, an unknown zone
or weekday) are already refused by ``load_settings``; :func:`job_specs` checks again so a
hand-made Settings cannot start a scheduler on nonsense.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from publisher.config import WEEKDAYS, Settings, parse_clock
from publisher.exceptions import ConfigError

JOBS_MODULE = "publisher.schedule.jobs"


class LocalTimeTrigger(CronTrigger):  # type: ignore[misc]
    """A cron trigger that fires at most once per wall-clock time.

    When clocks go back, a time inside the repeated hour (01:30 in New York on the first
    Sunday of November) exists twice; APScheduler's CronTrigger fires at both. This one
    skips the second occurrence. A time that does not exist (02:30 on the spring-forward
    day) fires once, an hour later by the wall clock, as APScheduler computes it.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        while fire is not None and _is_repeat(fire):
            fire = super().get_next_fire_time(fire, _just_after(fire))
        return fire


def _is_repeat(moment: datetime) -> bool:
    """Whether ``moment`` is the second occurrence of its wall-clock time (fold 1)."""
    zone = moment.tzinfo
    if zone is None:
        return False
    first = moment.replace(fold=0)
    return first.utcoffset() != moment.utcoffset() and first.astimezone(UTC) < moment.astimezone(
        UTC
    )


def _just_after(moment: datetime) -> datetime:
    """One microsecond later, computed in UTC (local arithmetic would drop ``fold``)."""
    return moment.astimezone(UTC) + timedelta(microseconds=1)


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: a stable id, what it does, and when.

    ``func`` is a ``module:function`` text reference, so the SQLAlchemy job store pickles a
    name, never a Publisher.
    """

    id: str
    description: str
    func: str
    args: tuple[str, ...]
    trigger: BaseTrigger


def site_zone(settings: Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.site.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            [f"site.timezone: {settings.site.timezone!r} is not an IANA time zone"]
        ) from exc


def daily_trigger(at: str, zone: tzinfo) -> LocalTimeTrigger:
    """Every day at ``at`` (HH:MM[:SS]) local time in ``zone``."""
    try:
        clock = parse_clock(at)
    except ValueError as exc:
        raise ConfigError([f"digest.daily_at: {at!r} is not a time of day (HH:MM)"]) from exc
    return LocalTimeTrigger(
        hour=clock.hour, minute=clock.minute, second=clock.second, timezone=zone
    )


def weekly_trigger(weekday: str, at: str, zone: tzinfo) -> LocalTimeTrigger:
    """Every ``weekday`` at ``at`` local time."""
    day = weekday.strip().lower()
    if day not in WEEKDAYS:
        raise ConfigError([f"digest.weekly_on: {weekday!r} is not a weekday (monday ... sunday)"])
    clock = parse_clock(at)
    return LocalTimeTrigger(
        day_of_week=day[:3],
        hour=clock.hour,
        minute=clock.minute,
        second=clock.second,
        timezone=zone,
    )


def job_specs(settings: Settings) -> list[JobSpec]:
    """Every job the scheduler runs, from the settings."""
    zone = site_zone(settings)
    return [*_digest_and_feed_jobs(settings, zone), *_inbound_jobs(settings, zone)]


def _inbound_jobs(settings: Settings, zone: ZoneInfo) -> list[JobSpec]:
    """Polling the IMAP bounce mailbox, when one is configured."""
    inbound = settings.inbound
    if not inbound.imap_host:
        return []
    return [
        JobSpec(
            "inbound-fetch",
            f"fetch bounces from IMAP {inbound.imap_host} (every {inbound.imap_minutes} min)",
            f"{JOBS_MODULE}:fetch_inbound",
            (),
            IntervalTrigger(minutes=inbound.imap_minutes, timezone=zone),
        )
    ]


def _digest_and_feed_jobs(settings: Settings, zone: ZoneInfo) -> list[JobSpec]:
    digest, schedule = settings.digest, settings.schedule
    at = digest.daily_at
    return [
        JobSpec(
            "digest-daily",
            f"daily digest at {at} {zone.key}",
            f"{JOBS_MODULE}:send_digest",
            ("daily",),
            daily_trigger(at, zone),
        ),
        JobSpec(
            "digest-weekly",
            f"weekly digest on {digest.weekly_on.lower()} at {at} {zone.key}",
            f"{JOBS_MODULE}:send_digest",
            ("weekly",),
            weekly_trigger(digest.weekly_on, at, zone),
        ),
        JobSpec(
            "articles-publish-due",
            f"publish scheduled articles (every {schedule.publish_check_seconds} s)",
            f"{JOBS_MODULE}:publish_due_articles",
            (),
            IntervalTrigger(seconds=schedule.publish_check_seconds, timezone=zone),
        ),
        JobSpec(
            "feeds-rebuild",
            f"rebuild every feed (every {schedule.feeds_rebuild_minutes} min)",
            f"{JOBS_MODULE}:rebuild_feeds",
            (),
            IntervalTrigger(minutes=schedule.feeds_rebuild_minutes, timezone=zone),
        ),
    ]


def fire_times(trigger: BaseTrigger, after: datetime) -> Iterator[datetime]:
    """The trigger's fire times after ``after``, in order, as long as it has any."""
    previous: datetime | None = None
    now = after
    while True:
        fire: datetime | None = trigger.get_next_fire_time(previous, now)
        if fire is None:
            return
        yield fire
        previous, now = fire, _just_after(fire)


def next_fire_times(trigger: BaseTrigger, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times after ``after``."""
    times: list[datetime] = []
    for fire in fire_times(trigger, after):
        if len(times) == count:
            break
        times.append(fire)
    return times
