"""``publisher digest report [KEY] [--json]``: what one edition did (the latest by default)."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from publisher.cli.app import AppContext, echo_json, pass_app
from publisher.cli.digest import digest_group


@digest_group.command("report")
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def digest_report(app: AppContext, key: str | None, as_json: bool) -> None:
    """Recipients, sent, failed, bounces, complaints, unsubscribes and clicks per link.

    Clicks are counted per edition and link, "human" once per client per hour and
    "automated" for link scanners and prefetchers (see docs/engagement.md).
    """
    report = app.publisher().admin.engagement.report(key)
    if as_json:
        echo_json(report)
        return
    print_report(report)


def print_report(report: dict[str, Any]) -> None:
    clicks = report["clicks"]
    lines = [
        f"edition {report['key']} ({report['state']})",
        f"recipients {report['recipients']}  sent {report['sent']}  failed {report['failed']}"
        f"  pending {report['pending']}",
        f"bounced {report['bounced']}  complaints {report['complaints']}"
        f"  unsubscribes {report['unsubscribes']}",
        f"clicks {clicks['human']} human, {clicks['automated']} automated",
    ]
    if report["opens"]["counted"]:
        opens = report["opens"]
        lines.append(f"opens {opens['human']} (unreliable: image proxies prefetch, some block)")
    timeline = report["timeline"]
    lines.append(f"started {timeline['started_at'] or '-'}  finished {timeline['sent_at'] or '-'}")
    for line in lines:
        click.echo(line)
    console = Console(width=160)
    if report["links"]:
        table = Table("link", "kind", "human", "automated")
        for link in report["links"]:
            table.add_row(
                link["title"] or link["url"],
                link["kind"],
                str(link["human"]),
                str(link["automated"]),
            )
        console.print(table)
    if report["top_categories"]:
        names = ", ".join(f"{c['name']} ({c['clicks']})" for c in report["top_categories"])
        click.echo(f"top categories: {names}")
