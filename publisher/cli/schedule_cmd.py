"""``publisher schedule show``: when each job runs next, in the site's zone and in UTC.

Computed from the settings alone (no database needed), so it is also the way to check a
new ``digest.daily_at`` or ``site.timezone`` before restarting the service.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.schedule import job_specs, next_fire_times


@main.group("schedule")
def schedule_group() -> None:
    """Inspect the scheduled jobs."""


@schedule_group.command("show")
@click.option("--count", default=3, show_default=True, type=click.IntRange(1, 366))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: AppContext, count: int, as_json: bool) -> None:
    """List every job and its next run times (site zone and UTC)."""
    settings = app.settings
    zone = settings.zone
    now = datetime.now(UTC).astimezone(zone)
    rows = []
    for spec in job_specs(settings):
        times = next_fire_times(spec.trigger, now, count)
        rows.append(
            {
                "id": spec.id,
                "description": spec.description,
                "timezone": zone.key,
                "next_runs": [t.astimezone(zone).isoformat() for t in times],
                "next_runs_utc": [t.astimezone(UTC).isoformat() for t in times],
            }
        )
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']}: {row['description']}")
        for local, utc in zip(row["next_runs"], row["next_runs_utc"], strict=True):
            click.echo(f"  {_local(local, zone)}  =  {_utc(utc)}")


def _local(iso: str, zone: ZoneInfo) -> str:
    """``Sat 2026-11-28 07:00:00 GMT +0000``: wall clock, zone abbreviation and offset."""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z %z")


def _utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
