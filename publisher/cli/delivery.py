"""``publisher digest send``, ``publisher digest status`` and ``publisher worker``.

Signals: the first SIGINT/SIGTERM asks the sender to stop (messages in flight finish, their
outcomes are recorded, claims are released) and the command exits 0; a second one exits at
once, and the leases still guarantee that nobody is lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.cli.digest import digest_group
from publisher.cli.tables import make_table, print_table, quiet_option, wide_option
from publisher.delivery import Tally
from publisher.types import DeliveryState, EditionDeliveryStatus, Frequency, SendReport


@contextmanager
def graceful_stop(
    announce: Callable[[str], None], helpers: list[subprocess.Popen[str]] | None = None
) -> Iterator[threading.Event]:
    """An event set by the first SIGINT/SIGTERM; the second signal exits at once.

    Each signal is passed on to ``helpers`` (sender processes this command started), which
    run in their own session so a terminal's Ctrl-C reaches them only through here.
    """
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        for helper in helpers or ():
            if helper.poll() is None:
                helper.send_signal(signal.SIGTERM)
        if stop.is_set():
            os._exit(128 + signum)
        stop.set()
        announce("stopping: finishing messages in flight (signal again to quit at once)")

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ProgressBar:
    """A rich progress bar with rate and ETA, shown only on a terminal."""

    def __init__(self, console: Console, total: int | None, label: str) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]:>7.0f} msg/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(label, total=total, rate=0.0)

    def start_total(self, total: int) -> None:
        """The number of deliveries outstanding, known once the edition is planned."""
        self.progress.update(self.task, total=total)

    def update(self, tally: Tally) -> None:
        rate = tally.sent / tally.seconds if tally.seconds > 0 else 0.0
        self.progress.update(self.task, completed=tally.settled, rate=rate)

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def summary_line(report: SendReport) -> str:
    line = (
        f"sent {report.sent}, deferred {report.deferred}, failed {report.failed}, "
        f"suppressed {report.suppressed} in {report.seconds:.1f} s ({report.rate:.0f} msg/s)"
    )
    left = report.extra.get("unfinished", 0)
    if left:
        line += f"; {left} not finished yet (deferred for retry or held by another worker)"
    return line


def report_dict(report: SendReport) -> dict[str, Any]:
    data = asdict(report)
    data["rate"] = round(report.rate, 1)
    data["seconds"] = round(report.seconds, 3)
    return data


def _run_with_progress(
    as_json: bool,
    label: str,
    run: Callable[..., SendReport],
    helpers: list[subprocess.Popen[str]] | None = None,
    start_helpers: Callable[[], None] | None = None,
) -> SendReport:
    """Run a send with signals handled and, on a terminal, a progress bar."""
    console = Console(stderr=True)
    with graceful_stop(lambda text: console.print(text), helpers) as stop:
        bars: list[ProgressBar] = []

        def started(total: int) -> None:
            for shown in bars:
                shown.start_total(total)
            if start_helpers is not None:
                start_helpers()

        if as_json or not console.is_terminal:
            return run(stop=stop, on_start=started)
        with ProgressBar(console, None, label) as bar:
            bars.append(bar)
            return run(stop=stop, on_progress=bar.update, on_start=started)


def _helper_command(app: AppContext) -> list[str]:
    root = str(app.settings.root.resolve())
    return [sys.executable, "-m", "publisher", "--root", root, "worker", "--until-done", "--json"]


def _collect(helpers: list[subprocess.Popen[str]], report: SendReport) -> SendReport:
    """Wait for the helper processes and add what they sent to ``report``."""
    sent, deferred, failed, suppressed = (
        report.sent,
        report.deferred,
        report.failed,
        report.suppressed,
    )
    for helper in helpers:
        out, err = helper.communicate()
        if helper.returncode != 0:
            click.echo(f"warning: a helper sender exited {helper.returncode}: {err}", err=True)
            continue
        theirs = json.loads(out)
        sent += int(theirs["sent"])
        deferred += int(theirs["deferred"])
        failed += int(theirs["failed"])
        suppressed += int(theirs["suppressed"])
    if helpers:
        report.extra["helpers_sent"] = sent - report.sent
    return replace(report, sent=sent, deferred=deferred, failed=failed, suppressed=suppressed)


@digest_group.command("send")
@click.option(
    "--frequency",
    type=click.Choice([f.value for f in Frequency]),
    default=Frequency.DAILY.value,
    show_default=True,
    help="Which digest to send.",
)
@click.option("--dry-run", is_flag=True, help="Plan and count; send nothing, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--to", "to", metavar="EMAIL", help="Send one test copy to EMAIL only (no ledger, no edition)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Sender processes on this host (the work is CPU-bound: up to one per core).",
)
@quiet_option
@pass_app
def digest_send(
    app: AppContext,
    frequency: str,
    dry_run: bool,
    as_json: bool,
    to: str | None,
    workers: int,
    quiet: bool,
) -> None:
    """Create (or resume) the edition of the current period and deliver it.

    Any unfinished edition is resumed first; run again, it sends nothing new.
    """
    publisher = app.publisher()
    freq = Frequency(frequency)
    if to is not None:
        reply = publisher.send_test_copy(to, freq)
        if as_json:
            echo_json({"to": to, "reply": reply})
        else:
            click.echo(f"test copy to {to}: {reply}")
        return
    if dry_run:
        report = publisher.send_digest(freq, dry_run=True)
    else:

        def run(**kwargs: Any) -> SendReport:
            return publisher.send_digest(freq, **kwargs)

        helpers: list[subprocess.Popen[str]] = []

        def start_helpers() -> None:
            # Started once the edition's rows exist; each drains until every row is final.
            for _ in range(workers - 1):
                helpers.append(
                    subprocess.Popen(
                        _helper_command(app),
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        start_new_session=True,
                    )
                )

        report = _run_with_progress(
            as_json or quiet,
            f"{freq.value} digest",
            run,
            helpers,
            start_helpers if workers > 1 else None,
        )
        report = _collect(helpers, report)
    if quiet:
        return
    if as_json:
        echo_json(report_dict(report))
        return
    if dry_run:
        click.echo(
            f"dry run: edition {report.edition_key}: {report.extra.get('recipients', 0)} "
            f"recipient(s), {report.extra.get('new', 0)} not yet in the ledger, "
            f"{report.extra.get('unfinished', 0)} unfinished delivery(ies) to resume"
        )
        return
    if report.extra.get("skipped"):
        click.echo(f"edition {report.edition_key} has no articles: nobody gets it")
    click.echo(f"edition {report.edition_key}: {summary_line(report)}")


@digest_group.command("status")
@click.argument("edition", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@pass_app
def digest_status(app: AppContext, edition: str | None, as_json: bool, wide: bool) -> None:
    """Deliveries by state, per edition (or for EDITION, e.g. daily/2026-11-27)."""
    found = app.publisher().delivery_status(edition)
    if as_json:
        echo_json([_status_dict(s) for s in found])
        return
    if not found:
        click.echo("no deliveries yet")
        return
    states = [s.value for s in DeliveryState]
    table = make_table("edition", *states, "total", "next retry (UTC)", copyable={"edition": 16})
    for status in found:
        retry = status.next_retry_at.strftime("%Y-%m-%d %H:%M:%S") if status.next_retry_at else ""
        counts = [str(status.counts.get(s, 0)) for s in states]
        table.add_row(status.edition_key, *counts, str(status.total), retry)
    print_table(table, wide)


def _status_dict(status: EditionDeliveryStatus) -> dict[str, Any]:
    return {
        "edition": status.edition_key,
        "counts": status.counts,
        "total": status.total,
        "unfinished": status.unfinished,
        "next_retry_at": status.next_retry_at,
    }


@main.command("worker")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on exit.")
@click.option(
    "--until-done", is_flag=True, help="Exit once every delivery is final instead of waiting."
)
@quiet_option
@pass_app
def worker(app: AppContext, as_json: bool, until_done: bool, quiet: bool) -> None:
    """Deliver pending rows of every edition until stopped (run several, on several hosts)."""
    publisher = app.publisher()
    console = Console(stderr=True)
    if not (as_json or quiet):
        console.print(f"worker started ({publisher.settings.mail.transport}); Ctrl-C stops it")
    with graceful_stop(lambda text: console.print(text)) as stop:
        report = publisher.drain(stop) if until_done else publisher.run_worker(stop)
    if quiet:
        return
    if as_json:
        echo_json(report_dict(report))
    else:
        click.echo(summary_line(report))
    sys.stdout.flush()
