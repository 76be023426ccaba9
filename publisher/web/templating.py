"""Jinja2 templates for the web pages (``templates/web/``), autoescaped.

Every page gets the site's title, description, URL and its feed links (for the
``<link rel="alternate">`` autodiscovery tags). Only article HTML that the ingest already
sanitised is ever marked safe, in ``article.html``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from publisher.core import Publisher
from publisher.resources import WEB_TEMPLATES_DIR
from publisher.tokens import Purpose
from publisher.types import Subscriber

# Fixed paths agreed with the feeds, used until the Publisher can name its feeds itself.
DEFAULT_FEEDS = (
    ("application/rss+xml", "RSS", "/feeds/rss.xml"),
    ("application/atom+xml", "Atom", "/feeds/atom.xml"),
    ("application/feed+json", "JSON Feed", "/feeds/feed.json"),
)

environment = Environment(
    loader=FileSystemLoader(WEB_TEMPLATES_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def feed_links(publisher: Publisher) -> list[tuple[str, str, str]]:
    """(MIME type, title, href) of each site-wide feed; the title names the site."""
    method = getattr(publisher, "feed_links", None)
    if callable(method):
        return [(str(m), str(t), str(h)) for m, t, h in method()]
    site = publisher.settings.site.title
    return [(mime, f"{site} ({label})", href) for mime, label, href in DEFAULT_FEEDS]


def local_link(publisher: Publisher, purpose: Purpose, subscriber: Subscriber) -> str:
    """A signed link as a path on this site (a form's action must stay same-origin under
    the CSP even when ``site.url`` names another host, e.g. behind a proxy)."""
    return f"/{purpose.value}/{publisher.signer.make(purpose, subscriber.id, subscriber.email)}"


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    publisher: Publisher = request.app.state.publisher
    site = publisher.settings.site
    values = {
        "site": {"title": site.title, "description": site.description, "url": site.url},
        "language": site.language,
        "feeds": feed_links(publisher),
        "path": request.url.path,
        **context,
    }
    html = environment.get_template(name).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
