"""When jobs fire: 07:00 local every day through both DST changes, weekly on its day."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from publisher.cli import main
from publisher.config import Settings, load_settings
from publisher.exceptions import ConfigError
from publisher.schedule import daily_trigger, job_specs, next_fire_times, weekly_trigger

# The 2026 transitions: London 29 Mar / 25 Oct, New York 8 Mar / 1 Nov,
# Sydney 5 Apr (clocks back) / 4 Oct (clocks forward).
ZONES = ["Europe/London", "America/New_York", "Australia/Sydney"]
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time of ``moment`` (through UTC: same-zone arithmetic ignores DST)."""
    return moment.astimezone(UTC).astimezone(zone)


def year_of_fires(trigger_zone: str, at: str = "07:00") -> list[datetime]:
    zone = ZoneInfo(trigger_zone)
    fires = next_fire_times(daily_trigger(at, zone), datetime(2026, 1, 1, tzinfo=zone), 400)
    return [f.astimezone(UTC) for f in fires if local(f, zone).year == 2026]


@pytest.mark.parametrize("zone_name", ZONES)
def test_daily_fires_at_seven_local_every_day_of_the_year_across_both_dst_changes(
    zone_name: str,
) -> None:
    zone = ZoneInfo(zone_name)
    fires = year_of_fires(zone_name)
    local_times = [local(f, zone) for f in fires]
    days = [moment.date() for moment in local_times]
    expected_days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert days == expected_days, "a day is missing or fires twice"
    assert {moment.time() for moment in local_times} == {time(7, 0)}
    # Both transitions are crossed: the UTC offset changes exactly twice in the year.
    offsets = [moment.utcoffset() for moment in local_times]
    changes = [i for i in range(1, len(offsets)) if offsets[i] != offsets[i - 1]]
    assert len(changes) == 2
    # The interval between fires is 23 h or 25 h on the change days, 24 h otherwise.
    gaps = {fires[i] - fires[i - 1] for i in range(1, len(fires))}
    assert gaps == {timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)}


def test_a_time_in_the_repeated_hour_fires_once_when_clocks_go_back() -> None:
    zone = ZoneInfo("America/New_York")
    start = datetime(2026, 10, 30, 12, tzinfo=zone)
    fires = next_fire_times(daily_trigger("01:30", zone), start, 4)
    days = [local(f, zone).date() for f in fires]
    assert days == [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    # The one fire of 1 November is the first 01:30 (daylight time, UTC-4).
    assert fires[1].utcoffset() == timedelta(hours=-4)


def test_a_time_that_does_not_exist_on_the_spring_forward_day_fires_once() -> None:
    zone = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 6, 12, tzinfo=zone)
    fires = next_fire_times(daily_trigger("02:30", zone), start, 4)
    days = [local(f, zone).date() for f in fires]
    assert days == [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)]
    # 02:30 does not exist that day (02:00 jumps to 03:00): it fires at 03:30 EDT, 07:30 UTC.
    assert fires[1].astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("zone_name", ZONES)
def test_weekly_fires_every_monday_at_seven_local_all_year(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    trigger = weekly_trigger("Monday", "07:00", zone)
    found = next_fire_times(trigger, YEAR_START.astimezone(zone), 60)
    fires = [local(f, zone) for f in found if local(f, zone).year == 2026]
    assert len(fires) == 52  # 2026 has 52 Mondays, the first on 5 January
    assert fires[0].date() == date(2026, 1, 5)
    assert all(f.weekday() == 0 and f.time() == time(7, 0) for f in fires)
    assert all((b.date() - a.date()).days == 7 for a, b in itertools.pairwise(fires))


def test_seconds_are_allowed_in_the_daily_time(settings: Settings) -> None:
    zone = ZoneInfo("Europe/London")
    fire = next_fire_times(daily_trigger("06:59:30", zone), datetime(2026, 6, 1, tzinfo=zone), 1)
    assert local(fire[0], zone).time() == time(6, 59, 30)


def test_job_specs_follow_the_settings(settings: Settings) -> None:
    specs = {spec.id: spec for spec in job_specs(settings)}
    assert set(specs) == {"digest-daily", "digest-weekly", "articles-publish-due", "feeds-rebuild"}
    assert specs["digest-daily"].func == "publisher.schedule.jobs:send_digest"
    assert specs["digest-daily"].args == ("daily",)
    assert specs["digest-weekly"].args == ("weekly",)
    assert "Europe/London" in specs["digest-daily"].description


@pytest.mark.parametrize(
    ("section", "field", "value", "named"),
    [
        ("digest", "daily_at", "25:00", "digest.daily_at"),
        ("digest", "weekly_on", "funday", "digest.weekly_on"),
        ("site", "timezone", "Mars/Olympus_Mons", "site.timezone"),
    ],
)
def test_bad_schedule_values_in_hand_made_settings_are_refused(
    settings: Settings, section: str, field: str, value: str, named: str
) -> None:
    part = dataclasses.replace(getattr(settings, section), **{field: value})
    broken = dataclasses.replace(settings, **{section: part})
    with pytest.raises(ConfigError) as caught:
        job_specs(broken)
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PUBLISHER_DIGEST__DAILY_AT": "25:00"}, "digest.daily_at"),
        ({"PUBLISHER_DIGEST__DAILY_AT": "7am"}, "digest.daily_at"),
        ({"PUBLISHER_SITE__TIMEZONE": "Europe/Atlantis"}, "site.timezone"),
        ({"PUBLISHER_DIGEST__WEEKLY_ON": "someday"}, "digest.weekly_on"),
    ],
)
def test_bad_schedule_settings_are_one_clear_line_at_start(
    project: Path, env: dict[str, str], named: str
) -> None:
    for command in (["schedule", "show"], ["serve"]):
        result = CliRunner().invoke(main, ["--root", str(project), *command], env=env)
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert named in lines[0]
        assert next(iter(env)) in lines[0]


def test_schedule_show_lists_next_runs_in_the_site_zone_and_utc(project: Path) -> None:
    env = {"PUBLISHER_SITE__TIMEZONE": "Australia/Sydney", "PUBLISHER_DIGEST__DAILY_AT": "07:15"}
    result = CliRunner().invoke(
        main, ["--root", str(project), "schedule", "show", "--json", "--count", "5"], env=env
    )
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    daily = rows["digest-daily"]
    assert daily["timezone"] == "Australia/Sydney"
    local = [datetime.fromisoformat(t) for t in daily["next_runs"]]
    utc = [datetime.fromisoformat(t) for t in daily["next_runs_utc"]]
    assert len(local) == 5 and local == utc
    assert all(t.astimezone(ZoneInfo("Australia/Sydney")).time() == time(7, 15) for t in local)
    assert all(t.utcoffset() == timedelta(0) for t in utc)
    assert [d.date() for d in local] == sorted({d.date() for d in local})
    text = CliRunner().invoke(main, ["--root", str(project), "schedule", "show"], env=env)
    assert text.exit_code == 0
    assert "digest-weekly: weekly digest on monday at 07:15 Australia/Sydney" in text.output
    assert re.search(r" 07:15:00 AE[DS]T \+1[01]00  =  \S+ \d\d:15:00 UTC", text.output)


def test_load_settings_accepts_the_schedule_section(project: Path) -> None:
    loaded = load_settings(project, environ={"PUBLISHER_SCHEDULE__LEADER_POLL_SECONDS": "0.5"})
    assert loaded.schedule.leader_poll_seconds == 0.5
