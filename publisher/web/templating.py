"""Jinja2 templates for the web pages (``templates/web/``), autoescaped.

Every page gets the site's title, description, URL and its feed links (for the
``<link rel="alternate">`` autodiscovery tags). Only article HTML that the ingest already
sanitised, and the article's JSON-LD (``<``, ``>``, ``&`` escaped as JSON), are ever marked
safe, in ``article.html``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from publisher.core import Publisher, Purpose, long_date, long_datetime, number, translations
from publisher.text import ReaderText, text_direction
from publisher.types import Subscriber


def make_environment(dirs: list[Path], language: str = "en") -> Environment:
    """The pages' templates, searched in ``dirs`` (a newsroom's own folder first), speaking
    ``language``: ``{% trans %}`` and ``_()`` use its gettext catalog, ``date`` and
    ``number`` format per its locale."""
    environment = Environment(
        loader=FileSystemLoader([str(d) for d in dirs]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language), newstyle=True
    )
    zone_free: dict[str, Callable[..., str]] = {
        "date": lambda moment, zone: long_date(moment, language, zone),
        "datetime": lambda moment, zone: long_datetime(moment, language, zone),
        "number": lambda value: number(value, language),
    }
    environment.filters.update(zone_free)
    return environment


class PageTemplates:
    """One template environment per language, made on first use (a handful at most)."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs
        self._by_language: dict[str, Environment] = {}

    def for_language(self, language: str) -> Environment:
        found = self._by_language.get(language)
        if found is None:
            found = self._by_language.setdefault(language, make_environment(self.dirs, language))
        return found


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


TRANSLATED = ("title", "message", "error", "lead")  # page texts that come from Python


def page_language(request: Request) -> str:
    """The language a page speaks: the site's (``PUBLISHER_SITE__LANGUAGE``)."""
    publisher: Publisher = request.app.state.publisher
    return publisher.settings.site.language


def reader_language(subscriber: Subscriber) -> dict[str, str]:
    """The ``language`` a page for this reader speaks, when they chose one (else the site's)."""
    return {"language": subscriber.language} if subscriber.language else {}


def gettext_for(request: Request) -> Callable[[str], str]:
    """``_`` for Python-side page texts (titles, messages), in the page's language."""
    return translations(page_language(request)).gettext


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    publisher: Publisher = request.app.state.publisher
    site = publisher.settings.site
    language = str(context.get("language", page_language(request)))
    _ = translations(language).gettext
    # Texts written in Python (marked N_ where written) are translated here, as shown.
    # A ReaderText (an error from below the web) brings its values to put back in.
    shown = {
        key: text.localised(_) if isinstance(text, ReaderText) else _(text)
        for key in TRANSLATED
        if isinstance(text := context.get(key), str) and text
    }
    values = {
        "site": {"title": site.title, "description": site.description, "url": site.url},
        "language": language,
        "direction": text_direction(language),
        "feeds": publisher.feeds.links(),
        "path": request.url.path,
        # Dates on pages are the newsroom's wall clock, as in the archive and the digest.
        "zone": publisher.settings.zone,
        **context,
        **shown,
    }
    templates: PageTemplates = request.app.state.templates
    html = templates.for_language(language).get_template(name).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
