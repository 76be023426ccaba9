"""``publisher init``: create the store, run migrations, make a secret key if none exists."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from publisher.cli.app import AppContext, main, pass_app
from publisher.config import ENV_FILE, ENV_PREFIX, Secret, Settings


def ensure_secret_key(settings: Settings) -> tuple[Settings, bool]:
    """Write a fresh secret key to ``.env`` when none is configured anywhere.

    Returns the settings (with the key) and whether a key was written.
    """
    if settings.secret_key:
        return settings, False
    key = secrets.token_urlsafe(48)
    env_path = settings.root / ENV_FILE
    # ``init --root NEW_FOLDER`` creates the project folder instead of failing on .env.
    env_path.parent.mkdir(parents=True, exist_ok=True)
    existing = env_path.read_text(encoding="utf-8") if env_path.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    env_path.write_text(existing + f"{ENV_PREFIX}SECRET_KEY={key}\n", encoding="utf-8")
    env_path.chmod(0o600)
    sources = dict(settings.sources, secret_key=str(env_path))
    return dataclasses.replace(settings, secret_key=Secret(key), sources=sources), True


@main.command("init")
@click.option(
    "--samples",
    type=click.Path(file_okay=False, path_type=Path),
    help="Import the articles in this folder when the store has none yet.",
)
@pass_app
def init(app: AppContext, samples: Path | None) -> None:
    """Create the database (and its folder), migrate it, and write a secret key to .env."""
    settings, wrote_key = ensure_secret_key(app.settings)
    app._settings = settings
    publisher = app.publisher(create=True)
    backend = make_url(settings.database_url).get_backend_name()
    click.echo(f"store ready: {backend} ({_safe_url(settings.database_url)})")
    if wrote_key:
        click.echo(f"secret key written to {settings.root / '.env'}")
    for folder in (settings.path(settings.feeds.dir), settings.path(settings.mail.outbox_dir)):
        folder.mkdir(parents=True, exist_ok=True)
    if samples is not None and not publisher.articles(limit=1, include_unpublished=True):
        report = publisher.import_directory(samples)
        for error in report.errors:
            click.echo(str(error), err=True)
        click.echo(f"sample articles from {samples}: {report.summary()}")


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)
