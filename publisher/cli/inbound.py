"""``publisher inbound``: bounces, complaints and unsubscribes by mail; ``subscribers show``.

``process`` reads raw mail from files or standard input (an MTA pipe, tests), ``serve``
runs the LMTP/SMTP receiver an MTA delivers the bounce domain to, ``fetch`` polls the
IMAP bounce mailbox. All three feed the same processor (``publisher.inbound``).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.cli.subscribers import subscribers_group
from publisher.core import ProcessReport
from publisher.exceptions import InboundError
from publisher.types import MailEvent


@main.group("inbound")
def inbound_group() -> None:
    """Process bounces, complaints and unsubscribes that come back by mail."""


def _read_all(paths: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """Every input read before any is processed: a missing file changes nothing."""
    found = []
    for path in paths:
        if path == "-":
            found.append(("<stdin>", sys.stdin.buffer.read()))
            continue
        try:
            found.append((path, Path(path).read_bytes()))
        except OSError as exc:
            raise InboundError(f"{path}: cannot read: {exc.strerror}") from exc
    return found


def describe(report: ProcessReport) -> str:
    """One line per mail: each new event and what it did, or that it was known already."""
    parts = []
    actions = dict(report.actions)
    for event in report.stored:
        who = event.email or "?"
        if event.subscriber_id is not None:
            who += f" (subscriber {event.subscriber_id})"
        action = actions.get(event.email)
        done = f" -> {action.value}" if action is not None and action.value != "nothing" else ""
        parts.append(f"{event.kind.value} {who}{done}")
    if report.duplicates:
        parts.append(f"{report.duplicates} already recorded")
    return "; ".join(parts) or "nothing"


@inbound_group.command("process")
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the new events as JSON.")
@pass_app
def inbound_process(app: AppContext, files: tuple[str, ...], as_json: bool) -> None:
    """Process raw mail from FILE... ('-' reads one message from standard input)."""
    inputs = _read_all(files)
    inbound = app.publisher().inbound
    reports = [(name, inbound.process(raw, source="file")) for name, raw in inputs]
    if as_json:
        echo_json([event_dict(e) for _, r in reports for e in r.stored])
        return
    for name, report in reports:
        click.echo(f"{name}: {describe(report)}")


@inbound_group.command("serve")
@click.option("--listen", default=None, help="HOST:PORT (default: inbound.listen).")
@click.option("--lmtp/--smtp", default=None, help="Protocol (default: inbound.lmtp).")
@pass_app
def inbound_serve(app: AppContext, listen: str | None, lmtp: bool | None) -> None:
    """Receive bounce mail over LMTP (or SMTP) until stopped."""
    publisher = app.publisher()
    settings = publisher.settings.inbound
    address = listen or settings.listen
    if not address:
        raise InboundError("no address to listen on: give --listen or set inbound.listen")
    use_lmtp = settings.lmtp if lmtp is None else lmtp
    receiver = publisher.inbound.receiver(address, use_lmtp)
    signal.signal(signal.SIGTERM, _interrupt)  # stop as Ctrl-C does: the server closes cleanly
    receiver.start()
    protocol = "LMTP" if use_lmtp else "SMTP"
    click.echo(f"inbound {protocol} receiver on {receiver.address}; Ctrl-C stops it", err=True)
    try:
        receiver.wait()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@inbound_group.command("fetch")
@pass_app
def inbound_fetch(app: AppContext) -> None:
    """Process and move every message in the IMAP bounce mailbox (inbound.imap_*)."""
    report = app.publisher().inbound.fetch()
    click.echo(f"fetched {report.messages} message(s): {describe(report.events)}")


@inbound_group.command("events")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def inbound_events(app: AppContext, limit: int, as_json: bool) -> None:
    """The latest mail events (bounces, complaints, unsubscribes ...)."""
    events = app.publisher().inbound.recent_events(limit)
    if as_json:
        echo_json([event_dict(e) for e in events])
        return
    _events_table(events)


def event_dict(event: MailEvent) -> dict[str, Any]:
    return {
        "kind": event.kind.value,
        "email": event.email,
        "subscriber_id": event.subscriber_id,
        "edition_id": event.edition_id,
        "status": event.status,
        "diagnostic": event.diagnostic,
        "source": event.source,
        "received_at": event.received_at,
    }


def _events_table(events: list[MailEvent]) -> None:
    table = Table("received (UTC)", "kind", "address", "edition", "status", "diagnostic", "via")
    for e in events:
        table.add_row(
            e.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.kind.value,
            e.email,
            str(e.edition_id or ""),
            e.status,
            e.diagnostic[:60],
            e.source,
        )
    Console(width=140).print(table)


@subscribers_group.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def subscribers_show(app: AppContext, email: str, as_json: bool) -> None:
    """One subscriber: status, suppression, and every mail event (bounces, complaints ...)."""
    subscriber, events, suppressed = app.publisher().inbound.subscriber_events(email)
    if as_json:
        echo_json(
            {
                "email": subscriber.email,
                "status": subscriber.status.value,
                "suppressed": suppressed,
                "events": [event_dict(e) for e in events],
            }
        )
        return
    click.echo(f"{subscriber.email} (id {subscriber.id}): {subscriber.status.value}")
    if suppressed:
        click.echo(f"suppressed: {suppressed}")
    if events:
        _events_table(events)
    else:
        click.echo("no mail events")


def print_edition_events(app: AppContext) -> None:
    """``digest status``: bounces, complaints, unsubscribes per edition, and rate warnings."""
    rows = app.publisher().inbound.edition_events()
    if not any(r.bounces or r.complaints or r.unsubscribes for r in rows):
        return
    table = Table("edition", "sent", "bounces", "complaints", "unsubscribes")
    for r in rows:
        table.add_row(
            r.edition_key, *(str(n) for n in (r.sent, r.bounces, r.complaints)), str(r.unsubscribes)
        )
    Console().print(table)
    for r in rows:
        for warning in r.warnings:
            click.echo(f"warning: {r.edition_key}: {warning}")
