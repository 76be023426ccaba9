"""``publisher config show``: the effective settings, where each came from, secrets masked."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.config import effective_settings, settings_markdown


@main.group("config")
def config_group() -> None:
    """Inspect the settings."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def config_show(app: AppContext, as_json: bool) -> None:
    """Print every setting with its value and source (environment, .env, file, default)."""
    rows = effective_settings(app.settings)
    if as_json:
        echo_json(rows)
        return
    table = Table("setting", "value", "source", "environment name")
    for row in rows:
        value = row["value"]
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        table.add_row(row["name"], shown, row["source"], row["env"])
    Console().print(table)


@config_group.command("docs")
def config_docs() -> None:
    """Print the settings reference as Markdown (the source of docs/settings.md)."""
    click.echo(settings_markdown(), nl=False)
