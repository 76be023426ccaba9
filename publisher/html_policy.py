"""The one HTML allow-list: what article markup may contain wherever it is shown.

Ingestion cleans what it stores and the feeds clean again what they publish (articles also
arrive through the API and from older imports, and a feed is read by software we do not
control); both passes must agree on what is allowed, so the policy lives here, once. A leaf
module: it imports nothing from the package but ``text``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import nh3

from publisher.text import one_line, strip_control

URL_SCHEMES = frozenset({"http", "https", "mailto"})
"""Schemes a link may use; anything else (``javascript:``, ``data:``) is removed."""

ALLOWED_TAGS = frozenset({
    "h2", "h3", "h4", "h5", "h6",
    "p", "br", "hr", "ul", "ol", "li", "a", "img", "figure", "figcaption", "blockquote",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    "em", "strong", "b", "i", "code", "pre", "sub", "sup", "small",
})  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_ATTRIBUTES = frozenset({("a", "href"), ("img", "src")})
# Dropped together with everything inside them: code, embeds and interactive chrome whose
# text content is meaningless (or harmful) once the element itself is gone.
CLEAN_CONTENT_TAGS = frozenset({
    "script", "style", "iframe", "object", "embed", "form", "noscript", "template",
    "svg", "math", "textarea", "select", "button", "head", "title",
})  # fmt: skip


def absolute_url(url: str, base: str) -> str | None:
    """``url`` resolved against ``base`` as a browser would; ``None`` if empty, malformed
    or unsafe.

    Protocol-relative URLs (``//cdn.example/x``) get ``https:``: the site is served over
    https and a mail client or feed reader has no "current protocol" to inherit.
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
            joined = urljoin(base, url)
            return joined if urlsplit(joined).netloc else None
        if scheme:
            return url if scheme in URL_SCHEMES else None
        return urljoin(base, url)
    except ValueError:  # e.g. "http://[broken" - an unparseable URL is dropped
        return None


def sanitise(fragment: str, base: str, extra_tags: Iterable[str] = ()) -> str:
    """Allow-listed HTML with every link and image URL absolute against ``base``.

    Links get ``rel="noopener"`` so a linked page cannot script the reader's tab.
    """
    cleaned: str = _cleaner(base, frozenset(extra_tags)).clean(strip_control(fragment))
    return cleaned


@lru_cache(maxsize=32)
def _cleaner(base: str, extra_tags: frozenset[str]) -> nh3.Cleaner:
    """The sanitiser for one base URL, built once: building nh3's options from the
    allow-list cost more than cleaning an article (an import cleans thousands)."""

    def url_attribute(element: str, attribute: str, value: str) -> str | None:
        # nh3 swallows exceptions raised here (it reports them as "unraisable"), so this
        # must never raise: absolute_url catches what urllib can throw. None drops the value.
        if (element, attribute) in URL_ATTRIBUTES:
            return absolute_url(value, base)
        return value

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS | extra_tags),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        link_rel="noopener",
        url_schemes=set(URL_SCHEMES),
        attribute_filter=url_attribute,
    )
