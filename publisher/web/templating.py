"""Jinja2 templates for the web pages (``templates/web/``), autoescaped.

Every page gets the site's title, description, URL and its feed links (for the
``<link rel="alternate">`` autodiscovery tags). Only article HTML that the ingest already
sanitised, and the article's JSON-LD (``<``, ``>``, ``&`` escaped as JSON), are ever marked
safe, in ``article.html``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from publisher.core import Publisher, Purpose
from publisher.text import text_direction
from publisher.types import Subscriber


def make_environment(dirs: list[Path]) -> Environment:
    """The pages' templates, searched in ``dirs`` (a newsroom's own folder first)."""
    return Environment(
        loader=FileSystemLoader([str(d) for d in dirs]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def static_file(request: Request, name: str) -> Path:
    """The first file called ``name`` in the template search path (a newsroom's wins)."""
    dirs: list[Path] = request.app.state.template_dirs
    for folder in dirs:
        if (folder / name).is_file():
            return folder / name
    return dirs[-1] / name


def local_link(publisher: Publisher, purpose: Purpose, subscriber: Subscriber) -> str:
    """A signed link as a path on this site (a form's action must stay same-origin under
    the CSP even when ``site.url`` names another host, e.g. behind a proxy)."""
    return publisher.signed_path(purpose, subscriber)


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
        "direction": text_direction(site.language),
        "feeds": publisher.feeds.links(),
        "path": request.url.path,
        # Dates on pages are the newsroom's wall clock, as in the archive and the digest.
        "zone": publisher.settings.zone,
        **context,
    }
    environment: Environment = request.app.state.templates
    html = environment.get_template(name).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
