"""``publisher schedule show``: when each job runs next, in the site's zone and in UTC.

Computed from the settings alone (no database needed), so it is also the way to check a
new ``digest.daily_at`` or ``site.timezone`` before restarting the service. With
``digest.local_delivery`` the daily job's coming waves follow, read from the database:
those of editions already closed and the next edition's, planned from today's readers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.schedule import job_specs, next_fire_times
from publisher.types import DeliveryWave


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
    rows: list[dict[str, Any]] = []
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
    waves = app.publisher().ops.coming_waves() if settings.digest.local_delivery else None
    if waves is not None:
        for row in rows:
            if row["id"] == "digest-daily":
                row["waves"] = [_wave_dict(wave, zone) for wave in waves]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']}: {row['description']}")
        for local, utc in zip(row["next_runs"], row["next_runs_utc"], strict=True):
            click.echo(f"  {_local(local, zone)}  =  {_utc(utc)}")
    if waves is not None:
        click.echo("digest-daily waves (digest.local_delivery: each reader at their own time)")
        for wave in waves:
            at = wave.at.isoformat()
            click.echo(f"  {wave.edition_key}: {_local(at, zone)}  =  {_utc(at)}")
            click.echo(f"    {wave.readers} reader(s): {_zones(wave)}")
        if not waves:
            click.echo("  none: no daily reader yet")


def _wave_dict(wave: DeliveryWave, zone: ZoneInfo) -> dict[str, object]:
    return {
        "edition": wave.edition_key,
        "at": wave.at.astimezone(zone).isoformat(),
        "at_utc": wave.at.astimezone(UTC).isoformat(),
        "readers": wave.readers,
        "zones": {name or "site": n for name, n in wave.zones.items()},
    }


SITE_ZONE = "site's zone"  # readers who chose none


def _zones(wave: DeliveryWave) -> str:
    """``Asia/Kathmandu 2, site's zone 1``: each zone of the wave and its readers."""
    return ", ".join(f"{name or SITE_ZONE} {n}" for name, n in sorted(wave.zones.items()))


def _local(iso: str, zone: ZoneInfo) -> str:
    """``Sat 2026-11-28 07:00:00 GMT +0000``: wall clock, zone abbreviation and offset."""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z %z")


def _utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
