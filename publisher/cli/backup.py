"""``publisher backup`` and ``publisher restore``: a consistent copy of the store, and back.

A backup is safe while ``serve`` or ``digest send`` runs (SQLite's online backup API, or
``pg_dump``'s snapshot). Restore is for a stopped service: it creates a missing store and
refuses to replace one that holds data unless ``--force`` is given.
"""

from __future__ import annotations

from pathlib import Path

import click

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.core import restore_store


@main.command("backup")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (SQLite database copy, or pg_dump custom format).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@pass_app
def backup(app: AppContext, out: Path, as_json: bool) -> None:
    """Write a consistent backup of the store to FILE, even while mail is being sent."""
    report = app.publisher().ops.backup(out)
    if as_json:
        echo_json(
            {
                "path": report.path,
                "kind": report.kind,
                "bytes": report.size,
                "counts": report.counts,
            }
        )
    else:
        click.echo(report.summary())


@main.command("restore")
@click.argument("source", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a store that already holds data.")
@click.option("--json", "as_json", is_flag=True, help="Print the restored row counts as JSON.")
@pass_app
def restore(app: AppContext, source: Path, force: bool, as_json: bool) -> None:
    """Restore FILE (made by `publisher backup`) into the configured store; stop the
    service first. A missing store is created; a non-empty one needs --force."""
    counts = restore_store(app.settings, source, force)
    if as_json:
        echo_json(counts)
    else:
        rows = ", ".join(f"{n} {name}" for name, n in counts.items())
        click.echo(f"restored {source}: {rows}")
