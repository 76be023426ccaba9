"""One sanitiser for every source format: nh3 with an allow-list, plus URL rewriting.

Article bodies end up in feeds, e-mails and the web site, so whatever a source contains
(pasted embeds, tracking pixels, ``onerror=`` handlers) must come out as inert markup that
renders the same everywhere. An allow-list (not a deny-list) keeps that true for markup
nobody thought of. Relative URLs are resolved against the site URL here because a feed
reader or mail client has no base URL to resolve them against.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import nh3

from publisher.text import one_line, strip_control

URL_SCHEMES = frozenset({"http", "https", "mailto"})
"""Schemes a link may use; anything else (``javascript:``, ``data:``) is removed."""

_TAGS = {
    "h1",  # allowed so its text survives; renamed to h2 below (h1 is the page title)
    "h2", "h3", "h4", "h5", "h6",
    "p", "br", "hr", "ul", "ol", "li", "a", "img", "figure", "figcaption", "blockquote",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    "em", "strong", "b", "i", "code", "pre", "sub", "sup", "small",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_URL_ATTRIBUTES = {("a", "href"), ("img", "src")}
# Dropped together with everything inside them: code, embeds and interactive chrome whose
# text content is meaningless (or harmful) once the element itself is gone.
_CLEAN_CONTENT = {
    "script", "style", "iframe", "object", "embed", "form", "noscript", "template",
    "svg", "math", "textarea", "select", "button", "head", "title",
}  # fmt: skip
_H1 = re.compile(r"<(/?)h1>")
_DEAD_LINK = re.compile(r"<a(?![^>]*\shref=)[^>]*>(.*?)</a>", re.DOTALL)
_BLOCK_END = re.compile(r"<(?:br|hr|/p|/li|/h[1-6]|/td|/th|/blockquote|/figcaption|/pre)\b[^>]*>")
_FIRST_PARAGRAPHS = re.compile(r"<p>(.*?)</p>", re.DOTALL)


def absolute_url(url: str, base: str) -> str | None:
    """``url`` made absolute against ``base``; ``None`` if empty, malformed or unsafe.

    Protocol-relative URLs (``//cdn.example/x``) get ``https:``: the site is served over
    https and a mail client has no "current protocol" to inherit.
    """
    url = one_line(url)
    if not url:
        return None
    try:
        if url.startswith("//"):
            url = "https:" + url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https") and not parts.netloc:
            # "https:evil.example" has no host: browsers read it relative to the page
            # (same scheme) or not at all, so resolve it like that or drop it (R7).
            joined = urljoin(base.rstrip("/") + "/", url)
            return joined if urlsplit(joined).netloc else None
        if scheme:
            return url if scheme in URL_SCHEMES else None
        return urljoin(base.rstrip("/") + "/", url)
    except ValueError:  # e.g. "http://[broken" - an unparseable URL is dropped
        return None


def clean_html(fragment: str, base: str) -> str:
    """Sanitise an HTML fragment and make its URLs absolute against ``base``.

    Body ``<h1>`` elements become ``<h2>`` because the article title is the page's only
    h1. Links get ``rel="noopener"`` so a linked page cannot script the reader's tab.
    """

    def relative(url: str) -> str | None:
        # nh3 reports exceptions from callbacks as "unraisable" instead of raising them,
        # so this must never raise: absolute_url already catches what urllib can throw.
        return absolute_url(url, base)

    def url_attribute(element: str, attribute: str, value: str) -> str | None:
        # nh3 only calls url_relative for URLs without a scheme; this sees them all, so a
        # host-less "https:evil.example" is resolved or dropped too (None drops it).
        if (element, attribute) in _URL_ATTRIBUTES:
            return absolute_url(value, base)
        return value

    cleaned = nh3.clean(
        strip_control(fragment),
        tags=_TAGS,
        clean_content_tags=_CLEAN_CONTENT,
        attributes=_ATTRIBUTES,
        link_rel="noopener",
        url_schemes=set(URL_SCHEMES),
        url_relative=relative,
        attribute_filter=url_attribute,
    )
    # A link whose URL was unsafe keeps only rel="noopener": unwrap it, or it is styled as
    # a link that goes nowhere (anchors cannot nest, so the lazy match is exact).
    cleaned = _DEAD_LINK.sub(r"\1", cleaned)
    return strip_control(_H1.sub(r"<\1h2>", cleaned)).strip()


def html_to_text(fragment: str) -> str:
    """The readable text of an HTML fragment on one line (tags dropped, entities decoded)."""
    spaced = _BLOCK_END.sub(" ", fragment)
    return one_line(html.unescape(nh3.clean(spaced, tags=set(), clean_content_tags=_CLEAN_CONTENT)))


def first_paragraph_text(cleaned: str) -> str:
    """Text of the first non-empty ``<p>`` of sanitised HTML, else of the whole fragment.

    Works on :func:`clean_html` output, whose ``<p>`` tags never carry attributes, so a
    regular expression is exact here.
    """
    for match in _FIRST_PARAGRAPHS.finditer(cleaned):
        text = html_to_text(match.group(1))
        if text:
            return text
    return html_to_text(cleaned)
