"""``publisher init``: create the store, run migrations, make a secret key if none exists."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url

from publisher.cli.app import AppContext, main, pass_app
from publisher.config import ensure_secret_key


@main.command("init")
@click.option(
    "--samples",
    type=click.Path(file_okay=False, path_type=Path),
    help="Import the articles in this folder when the store has none yet.",
)
@pass_app
def init(app: AppContext, samples: Path | None) -> None:
    """Create the database (and its folder), migrate it, and write a secret key to .env."""
    # `--root DIR` for a project that does not exist yet: make the folder, not a traceback.
    app.settings.root.mkdir(parents=True, exist_ok=True)
    settings, wrote_key = ensure_secret_key(app.settings)
    app._settings = settings
    publisher = app.publisher(create=True)
    click.echo(f"store ready: {publisher.store.dialect} ({_safe_url(settings.database_url)})")
    if wrote_key:
        click.echo(f"secret key written to {settings.root / '.env'}")
    for folder in (settings.path(settings.feeds.dir), settings.path(settings.mail.outbox_dir)):
        folder.mkdir(parents=True, exist_ok=True)
    if samples is not None and publisher.store.articles.count(include_retracted=True) == 0:
        report = publisher.import_directory(samples)
        for error in report.errors:
            click.echo(str(error), err=True)
        click.echo(f"sample articles from {samples}: {report.summary()}")


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)
