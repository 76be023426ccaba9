"""``publisher feeds``: build the feeds and say where they are."""

from __future__ import annotations

import click

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.cli.tables import quiet_option
from publisher.core import FEED_FORMATS as FORMATS
from publisher.core import BuildReport


@main.group("feeds")
def feeds_group() -> None:
    """Build the RSS, Atom and JSON feeds (site-wide and per category)."""


def _print(app: AppContext, report: BuildReport, as_json: bool) -> None:
    publisher = app.publisher()
    site = publisher.feeds.site
    out = publisher.feeds.out_dir
    rows = [
        {
            "feed": ref.title(site),
            "format": fmt,
            "path": str(out / ref.rel_path(fmt)),
            "url": ref.url(site, fmt),
        }
        for ref in report.feeds
        for fmt in FORMATS
    ]
    if as_json:
        echo_json(
            {
                "feeds": rows,
                "written": report.written,
                "removed": report.removed,
                "unchanged": report.unchanged,
            }
        )
        return
    for row in rows:
        click.echo(f"{row['url']}\n    {row['path']}")
    click.echo(report.summary())


@feeds_group.command("build")
@click.option("--all", "full", is_flag=True, help="Also re-render every archive page.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@quiet_option
@pass_app
def feeds_build(app: AppContext, full: bool, as_json: bool, quiet: bool) -> None:
    """Write every feed whose content changed, and print each feed's file and URL."""
    report = app.publisher().feeds.build(all=full)
    if not quiet:
        _print(app, report, as_json)


@feeds_group.command("publish-due")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def feeds_publish_due(app: AppContext, as_json: bool) -> None:
    """Bring scheduled articles whose time came into their feeds (for cron)."""
    report = app.publisher().feeds.publish_due()
    if as_json:
        echo_json({"due": report.due, "written": report.written})
        return
    click.echo(f"{report.due} scheduled article(s) due; {len(report.written)} file(s) written")
