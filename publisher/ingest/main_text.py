"""A page's main text and metadata by trafilatura (with htmldate for its dates).

trafilatura finds the story in a page whatever the template: it scores blocks of text
instead of trusting class names, so menus, "related" lists and footers that no class
name gives away stay out. What it returns is read here into plain values; the caller
sanitises the body with our own allow-list and URL rules like any other source.
"""

from __future__ import annotations

import html
import logging
from configparser import ConfigParser
from dataclasses import dataclass, field
from functools import cache

import lxml.html
from lxml import etree

# trafilatura logs every page it finds no text in; a failed extraction is our fallback's
# business, not a log line per file.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)

_DATE_PARAMS = {"extensive_search": True, "original_date": True}


@cache
def _config() -> ConfigParser:
    """trafilatura's settings, read once. trafilatura (and its date parsers) is imported
    here, on the first page: commands that read no HTML do not pay for loading it."""
    import trafilatura.settings

    config: ConfigParser = trafilatura.settings.use_config()
    # A short story is still a story: below 250 characters trafilatura would otherwise
    # fall back to the page's whole text (title and byline included, structure lost).
    config["DEFAULT"]["min_extracted_size"] = "1"
    # No alarm-signal timeout: pages are parsed in worker threads (the API) and processes.
    config["DEFAULT"]["extraction_timeout"] = "0"
    return config


@dataclass
class MainText:
    """What trafilatura found; empty strings and lists where it found nothing."""

    body_html: str = ""
    title: str = ""
    authors: list[str] = field(default_factory=list)
    date: str = ""  # YYYY-MM-DD: htmldate gives the day only
    categories: list[str] = field(default_factory=list)


def extract(page: lxml.html.HtmlElement, url: str | None) -> MainText:
    """The main text of ``page`` as HTML (its leading ``<h1>`` removed) and its metadata."""
    import trafilatura

    found = MainText()
    config = _config()
    try:
        result = trafilatura.extract(
            page,
            url=url,
            output_format="html",
            with_metadata=True,
            include_comments=False,
            include_formatting=True,
            include_links=True,
            include_images=True,
            include_tables=True,
            date_extraction_params=_DATE_PARAMS,
            config=config,
        )
    except (ValueError, TypeError, etree.LxmlError):  # pragma: no cover - defensive
        return found
    if not result:
        return found
    document = lxml.html.document_fromstring(result)
    metas = {m.get("name"): m.get("content") or "" for m in document.iter("meta")}
    found.title = metas.get("title", "")
    found.authors = [a.strip() for a in metas.get("author", "").split(";") if a.strip()]
    found.date = metas.get("date", "")
    found.categories = [c.strip() for c in metas.get("categories", "").split(";") if c.strip()]
    body = document.find("body")
    if body is not None:
        first = next((child for child in body if isinstance(child.tag, str)), None)
        if first is not None and first.tag == "h1":
            body.remove(first)
        found.body_html = "".join(lxml.html.tostring(child, encoding="unicode") for child in body)
        if body.text and body.text.strip():
            found.body_html = f"<p>{html.escape(body.text)}</p>" + found.body_html
    return found
