"""``publisher subscribers``: add, import, export, list and remove subscribers."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import click

from publisher.cli.app import AppContext, echo_json, fail, main, pass_app
from publisher.cli.tables import make_table, print_table, wide_option
from publisher.core import SubscribeRequest, parse_categories, parse_frequency, parse_mapping
from publisher.exceptions import SubscriberError
from publisher.types import Subscriber, SubscriberStatus


@main.group("subscribers")
def subscribers_group() -> None:
    """Add, import, export, list and remove subscribers."""


@subscribers_group.command("add")
@click.argument("email")
@click.option("--name", default="", help="The reader's name.")
@click.option("--frequency", default="daily", show_default=True, help="daily or weekly.")
@click.option("--categories", default="", help="Category slugs, comma separated (none = all).")
@click.option("--confirmed", is_flag=True, help="Consent was given elsewhere: no confirmation.")
@pass_app
def subscribers_add(
    app: AppContext, email: str, name: str, frequency: str, categories: str, confirmed: bool
) -> None:
    """Add one subscriber; without --confirmed they get a confirmation mail."""
    request = SubscribeRequest(
        email=email,
        name=name,
        frequency=parse_frequency(frequency),
        categories=parse_categories(categories),
        method="cli",
    )
    subscriber = app.publisher().add_subscriber(request, confirmed)
    what = "active" if confirmed else "pending, confirmation mail sent"
    click.echo(f"added {subscriber.email} (id {subscriber.id}, {what})")


@subscribers_group.command("import")
@click.argument("csv_path", metavar="CSV", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="Consent was given elsewhere: no confirmation.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Read COLUMN as FIELD (email, name, first_name, last_name, frequency, categories,"
    " tags, status, consent_at, ignore...); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def subscribers_import(
    app: AppContext, csv_path: Path, confirmed: bool, maps: tuple[str, ...], as_json: bool
) -> None:
    """Import subscribers from a CSV file with an email column (name, frequency, categories
    optional), or an export of Mailchimp, Substack, Ghost, Buttondown or listmonk as it is
    (people it says left are skipped; tags that name a category subscribe to it). Ends with
    a report; exit code 1 when any row was rejected."""
    mapping = parse_mapping(maps)
    try:
        handle: IO[bytes] = open(csv_path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SubscriberError(f"{csv_path}: cannot read: {exc.strerror}", "file") from exc
    with handle:
        report = app.publisher().import_subscribers(
            handle, str(csv_path), confirmed, mapping=mapping
        )
    if as_json:
        echo_json(asdict(report))
        sys.exit(0 if report.ok else 1)
    for row in report.skipped:
        click.echo(f"{csv_path}:{row.line}: skipped: {row.reason}")
    for row in report.rejected:
        click.echo(f"{csv_path}:{row.line}: rejected: {row.reason}", err=True)
    for row in report.mail_failed:
        click.echo(f"{csv_path}:{row.line}: {row.reason}", err=True)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@subscribers_group.command("export")
@click.argument("path", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--status", type=click.Choice([s.value for s in SubscriberStatus]))
@pass_app
def subscribers_export(app: AppContext, path: str, status: str | None) -> None:
    """Write every subscriber (or those of one status) as CSV to PATH or - (stdout)."""
    wanted = SubscriberStatus(status) if status else None
    if path == "-":
        app.publisher().export_subscribers(sys.stdout, wanted)
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as out:
            count = app.publisher().export_subscribers(out, wanted)
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror}")
    click.echo(f"{count} subscriber(s) written to {path}", err=True)


def subscriber_dict(subscriber: Subscriber) -> dict[str, Any]:
    data = asdict(subscriber)
    data["categories"] = list(subscriber.categories)
    return data


@subscribers_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in SubscriberStatus]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@pass_app
def subscribers_list(app: AppContext, status: str | None, as_json: bool, wide: bool) -> None:
    """List subscribers (all, or those of one status)."""
    wanted = SubscriberStatus(status) if status else None
    items = app.publisher().subscribers(wanted)
    if as_json:
        echo_json([subscriber_dict(s) for s in items])
        return
    headings = ("id", "email", "name", "status", "frequency", "categories", "consent")
    table = make_table(*headings, copyable={"email": 20, "categories": 0})
    for s in items:
        consent = f"{s.consent_method} {s.consent_at:%Y-%m-%d}" if s.consent_at else ""
        cats = ", ".join(s.categories) or "all"
        table.add_row(str(s.id), s.email, s.name, s.status, s.frequency, cats, consent)
    print_table(table, wide)


@subscribers_group.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: AppContext, email: str) -> None:
    """Delete a subscriber and their choices (to stop mail but keep the record, they can
    unsubscribe instead)."""
    subscriber, deleted = app.publisher().remove_subscriber(email)
    if deleted:
        click.echo(f"removed {subscriber.email} (id {subscriber.id})")
    else:
        click.echo(
            f"erased {subscriber.email} (id {subscriber.id}): the delivery ledger keeps an "
            "anonymous row"
        )
