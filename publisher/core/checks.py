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

from publisher.config import Settings
from publisher.core.publisher import Publisher
from publisher.delivery.probe import probe_smtp
from publisher.digest import EmailRenderer, plan_audience, render_edition
from publisher.digest.dkim_dns import check_published_key
from publisher.digest.sample import SAMPLE_ISSUED, SAMPLE_KEY, sample_articles
from publisher.exceptions import PublisherError
from publisher.store import open_store
from publisher.types import Frequency, Subscriber


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


def check_service(publisher: Publisher) -> list[Finding]:
    """Mail transport, DKIM key and templates, as the running service would use them."""
    return [_transport(publisher), _dkim(publisher), _templates(publisher)]


def _transport(publisher: Publisher) -> Finding:
    settings = publisher.settings
    if settings.mail.transport == "smtp":
        try:
            reply = probe_smtp(publisher.smtp_options())
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
    return Finding("mail", "ok", f"transport {settings.mail.transport} (kept in memory)")


def _dkim(publisher: Publisher) -> Finding:
    try:
        signer = publisher.dkim_signer()
    except PublisherError as exc:
        return Finding("dkim", "problem", str(exc))
    if signer is None:
        return Finding("dkim", "skipped", "no dkim.private_key_path: mail is not signed")
    matches, detail = check_published_key(signer)
    status = "skipped" if matches is None else "ok" if matches else "problem"
    return Finding("dkim", status, detail)


def _templates(publisher: Publisher) -> Finding:
    """Render a sample edition with this site's options through the real templates."""
    options = publisher.digest_options
    try:
        audience = plan_audience(
            sample_articles(3), [Subscriber(1, "reader@example.org")], options.plan
        )
        renderer: EmailRenderer = publisher.email_renderer()
        rendered = render_edition(
            SAMPLE_KEY, Frequency.DAILY, SAMPLE_ISSUED, audience, options, renderer
        )
    except PublisherError as exc:
        return Finding("templates", "problem", str(exc).replace("\n", " "))
    return Finding("templates", "ok", f"sample digest rendered ({len(rendered.variants)} variant)")
