"""``publisher digest preview``: the digest that would go out now, as files, uncreated."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.cli.app import AppContext, echo_json, pass_app
from publisher.cli.digest import digest_group
from publisher.exceptions import PublisherError


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
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write digest.html, digest.txt and digest.eml to.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@pass_app
def digest_preview(
    app: AppContext, frequency: str, email: str | None, out: Path, as_json: bool
) -> None:
    """Write the edition that would go out now, without creating it."""
    preview = app.publisher().preview_edition(frequency, email)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "digest.html").write_text(preview.html, encoding="utf-8")
        (out / "digest.txt").write_text(preview.text, encoding="utf-8")
        (out / "digest.eml").write_bytes(preview.message.data)
    except OSError as exc:
        raise PublisherError(f"{out}: cannot write the preview: {exc.strerror or exc}") from exc
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
