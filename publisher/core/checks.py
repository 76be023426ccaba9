"""``publisher config check``: everything a first run or a deployment can get wrong, at once.

Two steps, because the second needs what the first proves: the store is checked without
migrating it (a check must change nothing), then, when it is reachable and current, the
parts a running Publisher uses: the mail transport (SMTP answers NOOP, or the outbox folder
is writable), the DKIM key against DNS, and the templates (a sample edition is rendered with
this site's settings). Each finding is one line; settings problems come earlier, from
``load_settings``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

from publisher.config import Settings
from publisher.core.editions import Editions
from publisher.core.transports import smtp_options
from publisher.delivery.probe import probe_smtp
from publisher.digest import plan_audience, render_edition
from publisher.exceptions import PublisherError
from publisher.store import open_store
from publisher.types import Article, Category, Frequency, Subscriber

SAMPLE_KEY = "daily/2026-11-27"
SAMPLE_TIME = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Finding:
    """One checked thing: ``ok``, ``problem`` or ``skipped`` (could not be decided here)."""

    what: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:8} {self.what}: {self.detail}"


def check_store(settings: Settings) -> Finding:
    """The database answers and its schema is current (nothing is created or migrated)."""
    try:
        store = open_store(settings.database_url, settings.site.url, migrate=False)
    except PublisherError as exc:
        return Finding("database", "problem", str(exc))
    try:
        store.ping()
        if store.needs_migration():
            return Finding("database", "problem", "schema is not current: run `publisher init`")
        return Finding("database", "ok", f"{store.dialect}, schema current")
    except PublisherError as exc:
        return Finding("database", "problem", str(exc))
    finally:
        store.close()


def check_parts(settings: Settings, editions: Editions) -> list[Finding]:
    """Mail transport, DKIM key and templates, as the running service would use them."""
    return [_transport(settings), _dkim(editions), _templates(editions)]


def _transport(settings: Settings) -> Finding:
    if settings.mail.transport == "smtp":
        try:
            reply = probe_smtp(smtp_options(settings))
        except PublisherError as exc:
            return Finding("smtp", "problem", str(exc).replace("\n", " "))
        return Finding("smtp", "ok", f"{settings.smtp.host}:{settings.smtp.port} NOOP: {reply}")
    if settings.mail.transport == "outbox":
        folder = settings.path(settings.mail.outbox_dir)
        writable = folder.is_dir() and os.access(folder, os.W_OK)
        parent_ok = not folder.exists() and os.access(folder.parent, os.W_OK)
        if writable or parent_ok:
            return Finding("outbox", "ok", f"mail is written to {folder}")
        return Finding("outbox", "problem", f"{folder} is not a writable folder")
    return Finding("mail", "ok", f"transport {settings.mail.transport}")


def _dkim(editions: Editions) -> Finding:
    try:
        signer = editions.signer()
    except PublisherError as exc:
        return Finding("dkim", "problem", str(exc))
    if signer is None:
        return Finding("dkim", "skipped", "no dkim.private_key_path: mail is not signed")
    # dnspython loads only for `config check`, not with every command.
    from publisher.digest.dkim_dns import check_published_key

    matches, detail = check_published_key(signer)
    status = "skipped" if matches is None else "ok" if matches else "problem"
    return Finding("dkim", status, detail)


def _sample_articles() -> list[Article]:
    """Two made-up articles in two categories: enough to exercise every template block."""
    local, sport = Category("local", "Local"), Category("sport", "Sport")
    return [
        Article(
            id=index,
            guid=f"check-{index}",
            slug=f"check-{index}",
            url=f"https://news.example.org/check-{index}",
            title=title,
            summary="A sample summary for the template check.",
            content_html="<p>Sample body.</p>",
            published_at=SAMPLE_TIME,
            updated_at=SAMPLE_TIME,
            authors=("Newsroom",),
            categories=(category,),
        )
        for index, (title, category) in enumerate(
            (("Footbridge reopens", local), ("Harriers win in the mud", sport)), start=1
        )
    ]


def _templates(editions: Editions) -> Finding:
    """Render a sample edition with this site's options through the real templates."""
    options = editions.options
    try:
        readers = [Subscriber(1, "reader@example.org")]
        audience = plan_audience(tuple(_sample_articles()), readers, options.plan)
        rendered = render_edition(
            SAMPLE_KEY, Frequency.DAILY, SAMPLE_TIME, audience, options, editions.renderer
        )
    except PublisherError as exc:
        return Finding("templates", "problem", str(exc).replace("\n", " "))
    return Finding("templates", "ok", f"sample digest rendered ({len(rendered.variants)} variant)")
