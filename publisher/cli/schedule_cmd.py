"""``publisher schedule show``: when each job runs next, in the site's zone and in UTC.

Computed from the settings alone (no database needed), so it is also the way to check a
new ``digest.daily_at`` or ``site.timezone`` before restarting the service.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
            click.echo(f"  {_short(local)}  =  {_short(utc)}")


def _short(iso: str) -> str:
    """``2026-11-28T07:00:00+00:00`` as ``Sat 2026-11-28 07:00:00 +0000`` (to the second)."""
    return datetime.fromisoformat(iso).strftime("%a %Y-%m-%d %H:%M:%S %z")
