"""Sending from the command line: signals, the progress bar, helper processes, ``worker``.

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
from datetime import UTC
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
from publisher.cli.tables import quiet_option
from publisher.core import Tally
from publisher.types import LeaseHolder, SendReport


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


def run_with_progress(
    as_json: bool,
    label: str,
    run: Callable[..., SendReport],
    helpers: list[subprocess.Popen[str]] | None = None,
    helpers_from_rows: int = 0,
) -> SendReport:
    """Run a send with signals handled and, on a terminal, a progress bar.

    ``helpers`` (see :func:`start_helpers`) are told to go once the edition is planned
    with at least ``helpers_from_rows`` rows to send (else they exit), and each one's exit
    wakes this sender at once if it waits for the helper's rows.
    """
    console = Console(stderr=True)
    wake = threading.Event()
    for helper in helpers or ():
        threading.Thread(target=_wake_on_exit, args=(helper, wake), daemon=True).start()
    with graceful_stop(lambda text: console.print(text), helpers) as stop:
        bars: list[ProgressBar] = []

        def started(total: int) -> None:
            for shown in bars:
                shown.start_total(total)
            # A small edition is sent faster by one process: at 3,000 readers two
            # processes took 0.89-0.95 of one's rate, at 20,000 they took 1.15x and at
            # 100,000 1.27x (bench/scale.py, docs/scaling.md). Helpers are told
            # "stop" instead of "go" and exit without sending.
            for helper in helpers or ():
                _tell(helper, "go" if total >= helpers_from_rows else "stop")

        waiting = waiting_notice(console)
        kwargs: dict[str, Any] = {"stop": stop, "on_start": started, "on_wait": waiting}
        if helpers:
            kwargs["wake"] = wake
        if as_json or not console.is_terminal:
            return run(**kwargs)
        with ProgressBar(console, None, label) as bar:
            bars.append(bar)
            return run(on_progress=bar.update, **kwargs)


def _wake_on_exit(helper: subprocess.Popen[str], wake: threading.Event) -> None:
    helper.wait()
    wake.set()


def _tell(helper: subprocess.Popen[str], line: str) -> None:
    if helper.stdin is None or helper.poll() is not None:
        return
    try:
        helper.stdin.write(line + "\n")
        helper.stdin.flush()
    except OSError:
        pass  # it died; collect_helpers reports it


def start_helpers(app: AppContext, count: int) -> list[subprocess.Popen[str]]:
    """Start ``count`` helper senders now, before the edition is planned.

    Each imports, connects and waits for a "go" line on its stdin (written once the
    ledger exists), then drains until nothing is claimable and exits: no start-up
    latency after planning and no poll tail. Its stdin is a pipe from this process: when
    this process dies, however it dies, the pipe closes and the helper stops (finishing
    its messages in flight, giving the rest of its batch back), so no helper sends on
    unseen after its parent.
    """
    return [
        subprocess.Popen(
            helper_command(app),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def waiting_notice(console: Console) -> Callable[[list[LeaseHolder]], None]:
    """Says, on stderr, whose live claims a send waits for: never a silent wait."""

    def notice(holders: list[LeaseHolder]) -> None:
        for h in holders:
            until = h.until.astimezone(UTC).strftime("%H:%M:%S")
            console.print(
                f"waiting for worker {h.worker}: it holds {h.rows} delivery(ies) "
                f"under a lease until {until} UTC (renewed while it lives)",
                markup=False,
                highlight=False,
            )

    return notice


def helper_command(app: AppContext) -> list[str]:
    root = str(app.settings.root.resolve())
    return [sys.executable, "-m", "publisher", "--root", root, "worker", "--helper", "--json"]


def collect_helpers(helpers: list[subprocess.Popen[str]], report: SendReport) -> SendReport:
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


@main.command("worker")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on exit.")
@click.option(
    "--until-done", is_flag=True, help="Exit once every delivery is final instead of waiting."
)
@click.option("--helper", is_flag=True, hidden=True, help="A helper of `digest send --workers`.")
@quiet_option
@pass_app
def worker(app: AppContext, as_json: bool, until_done: bool, helper: bool, quiet: bool) -> None:
    """Deliver pending rows of every edition until stopped (run several, on several hosts)."""
    publisher = app.publisher()
    console = Console(stderr=True)
    if not (as_json or quiet):
        console.print(f"worker started ({publisher.settings.mail.transport}); Ctrl-C stops it")
    with graceful_stop(lambda text: console.print(text)) as stop:
        waiting = waiting_notice(console)
        if helper:
            _follow_parent(stop)
            report = publisher.drain(stop, on_wait=waiting, until_idle=True)
        else:
            report = publisher.drain(stop, forever=not until_done, on_wait=waiting)
    if quiet:
        return
    if as_json:
        echo_json(report_dict(report))
    else:
        click.echo(summary_line(report))
    sys.stdout.flush()


def _follow_parent(stop: threading.Event) -> None:
    """Wait for the parent's "go" on stdin (anything else: stop at once, having sent
    nothing); from then on, its closing stdin means stop."""
    go = threading.Event()

    def watch() -> None:
        if sys.stdin.readline().strip() == "go":
            go.set()
            sys.stdin.read()  # returns at end of file: the parent closed it, or died
        stop.set()
        go.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    go.wait()
