"""``publisher digest``: preview, send and follow editions of the digest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.cli.inbound import print_edition_events
from publisher.cli.sending import (
    collect_helpers,
    report_dict,
    run_with_progress,
    start_helpers,
    summary_line,
)
from publisher.cli.tables import make_table, print_table, quiet_option, wide_option
from publisher.core import parse_language
from publisher.exceptions import OutputError
from publisher.types import DeliveryWave, EditionDeliveryStatus, Frequency, SendReport


@main.group("digest")
def digest_group() -> None:
    """Preview, send and follow digest editions."""


@digest_group.command("preview")
@click.option(
    "--frequency",
    type=click.Choice(["daily", "weekly"]),
    default="daily",
    show_default=True,
    help="Which digest to preview.",
)
@click.option(
    "--subscriber",
    "email",
    metavar="EMAIL",
    help="Preview what this subscriber gets (their categories and links).",
)
@click.option(
    "--language",
    "language",
    default="",
    metavar="CODE",
    help="Preview in this language (default: the subscriber's, else the site's).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write digest.html, digest.txt and digest.eml to.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@pass_app
def digest_preview(
    app: AppContext, frequency: str, email: str | None, language: str, out: Path, as_json: bool
) -> None:
    """Write the edition that would go out now, without creating it."""
    chosen = parse_language(language) if language else ""
    preview = app.publisher().preview_edition(frequency, email, language=chosen)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "digest.html").write_text(preview.html, encoding="utf-8")
        (out / "digest.txt").write_text(preview.text, encoding="utf-8")
        (out / "digest.eml").write_bytes(preview.message.data)
    except OSError as exc:
        raise OutputError(f"cannot write the preview: {exc.strerror or exc}", out) from exc
    edition = preview.edition
    count = len(edition.article_ids)
    files = [out / name for name in ("digest.html", "digest.txt", "digest.eml")]
    if as_json:
        echo_json(
            {
                "edition": edition.key,
                "status": edition.status,
                "articles": count,
                "subject": preview.subject,
                "files": files,
            }
        )
        return
    click.echo(f"{edition.key}: {count} article(s); subject: {preview.subject}")
    if edition.status == "skipped":
        click.echo("note: this edition is empty and would not be sent (digest.send_empty)")
    if not app.settings.site.url.startswith("https://"):
        click.echo("note: site.url is not https; mailbox providers want an https unsubscribe URL")
    click.echo(f"wrote {out / 'digest.html'}, {out / 'digest.txt'}, {out / 'digest.eml'}")


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

        from_rows = publisher.settings.mail.helpers_from_rows
        wanted = workers - 1
        if wanted and publisher.ops.active_readers() < from_rows:
            # No edition of this list can reach the helpers' threshold: starting them only
            # to tell them "stop" cost the small send 5-13 % (bench/scale.py, 3,000 readers).
            wanted = 0
        helpers = start_helpers(app, wanted)  # they start up while the edition is planned
        report = SendReport("")
        try:
            report = run_with_progress(
                as_json or quiet, f"{freq.value} digest", run, helpers, from_rows
            )
        finally:  # on an error too: closing their stdin stops them (see start_helpers)
            report = collect_helpers(helpers, report)
            if workers > 1:
                report.extra.setdefault("helpers_sent", 0)
                report.extra["helpers"] = len(helpers)
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
    """Each edition's state and deliveries by state (or EDITION's, e.g. daily/2026-11-27).

    The state is the product's own: open, sending (from the close until the last wave,
    with digest.local_delivery), sent (every delivery final), partial (final, some
    failed) or skipped (no articles). With local delivery each edition's waves follow:
    when each goes out (UTC; --wide adds the site's clock), its readers, how many were
    sent and how many are pending. --wide adds when sending started and finished and the
    rate in between; --json prints a list of editions, each with at least ``key``,
    ``state``, ``counts``, ``started_at``, ``sent_at``, ``rate`` and ``waves``.
    """
    publisher = app.publisher()
    found = publisher.delivery_status(edition)
    waves = {s.edition_key: publisher.delivery_waves(s.edition_key) for s in found}
    zone = app.settings.zone
    if as_json:
        echo_json(
            [
                {**_status_dict(s), "waves": [_wave_dict(w, zone) for w in waves[s.edition_key]]}
                for s in found
            ]
        )
        return
    if not found:
        click.echo("no editions yet")
        return
    # What an 80-column terminal holds; --wide adds the times and the rate, --json has all.
    final = ("sent", "failed", "suppressed")
    timing = ("started (UTC)", "finished (UTC)", "msg/s") if wide else ()
    table = make_table(
        "edition", "state", *final, "unfinished", *timing, copyable={"edition": 16, "state": 7}
    )
    for status in found:
        row = [status.edition_key, status.state]
        row += [str(status.counts.get(s, 0)) for s in final] + [str(status.unfinished)]
        if wide:
            rate = f"{status.rate:.0f}" if status.sent_at else ""
            row += [_moment(status.started_at), _moment(status.sent_at), rate]
        table.add_row(*row)
    print_table(table, wide)
    for status in found:
        if status.next_retry_at is not None:
            click.echo(f"{status.edition_key}: next retry {_moment(status.next_retry_at)} UTC")
    _print_waves(waves, zone, wide)
    print_edition_events(app)


def _print_waves(waves: dict[str, list[DeliveryWave]], zone: ZoneInfo, wide: bool) -> None:
    """digest.local_delivery: one table of every listed edition's waves."""
    if not any(waves.values()):
        return
    local = (f"wave ({zone.key})",) if wide else ()
    table = make_table(
        "edition", "wave (UTC)", *local, "readers", "sent", "pending", copyable={"edition": 16}
    )
    for key, found in waves.items():
        for wave in found:
            shown = (_local(wave.at, zone),) if wide else ()
            table.add_row(
                key, _moment(wave.at), *shown, str(wave.readers), str(wave.sent), str(wave.pending)
            )
    print_table(table, wide)


def _wave_dict(wave: DeliveryWave, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "at": wave.at,
        "at_local": wave.at.astimezone(zone).isoformat(),
        "readers": wave.readers,
        "sent": wave.sent,
        "pending": wave.pending,
        "counts": wave.counts,
    }


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _moment(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _status_dict(status: EditionDeliveryStatus) -> dict[str, Any]:
    return {
        "key": status.edition_key,
        "state": status.state,
        "counts": status.counts,
        "total": status.total,
        "unfinished": status.unfinished,
        "started_at": status.started_at,
        "sent_at": status.sent_at,
        "rate": round(status.rate, 1),
        "next_retry_at": status.next_retry_at,
        "edition": status.edition_key,  # the name before ``key``; kept for scripts
    }
