"""Article HTML made safe and self-contained for a feed reader (R7, R8, R6).

The ingest step already sanitises what it stores, but articles also arrive through the API
and from older imports, and a feed is read by software we do not control: this is a second,
independent allow-list pass. A reader has no base URL, so every ``src``/``href`` is made
absolute against the article's own URL, and the lead image is put into the content too,
because many readers show only the content.
"""

from __future__ import annotations

import html
from urllib.parse import urljoin, urlsplit

import lxml.html
import nh3

from publisher.text import strip_control

URL_SCHEMES = frozenset({"http", "https", "mailto"})
_TAGS = {
    "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "ul", "ol", "li", "a", "img", "figure",
    "figcaption", "blockquote", "table", "thead", "tbody", "tfoot", "tr", "th", "td",
    "caption", "em", "strong", "b", "i", "code", "pre", "sub", "sup", "small",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_CLEAN_CONTENT = {
    "script", "style", "iframe", "object", "embed", "form", "noscript", "template",
    "svg", "math", "textarea", "select", "button", "head", "title",
}  # fmt: skip
_URL_ATTRIBUTES = {("a", "href"), ("img", "src")}


def absolute_url(url: str, base: str) -> str | None:
    """``url`` resolved against ``base``; ``None`` when empty, unparseable or unsafe."""
    url = strip_control(url).strip()
    if not url:
        return None
    try:
        if url.startswith("//"):
            url = "https:" + url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https") and not parts.netloc:
            # R7: "https:evil.example" is not absolute; resolve it as browsers do, or drop it.
            joined = urljoin(base, url)
            return joined if urlsplit(joined).netloc else None
        if scheme:
            return url if scheme in URL_SCHEMES else None
        return urljoin(base, url)
    except ValueError:
        return None


def clean_content(fragment: str, base: str) -> str:
    """Allow-listed HTML with every link and image URL absolute against ``base``."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        # nh3 swallows exceptions raised here, so this must not raise: absolute_url cannot.
        if (tag, attribute) in _URL_ATTRIBUTES:
            return absolute_url(value, base)
        return value

    return nh3.clean(
        strip_control(fragment),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        clean_content_tags=_CLEAN_CONTENT,
        attribute_filter=attribute_filter,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener",
    )


def with_image(content: str, image_url: str | None, alt: str) -> str:
    """The content with the lead image first, unless the content already shows it (R6)."""
    if not image_url or f'src="{html.escape(image_url)}"' in content:
        return content
    tag = f'<img src="{html.escape(image_url)}" alt="{html.escape(alt)}">'
    return f"<figure>{tag}</figure>{content}"


def plain_text(fragment: str) -> str:
    """The visible text of an HTML fragment (for a summary derived from the content)."""
    if not fragment.strip():
        return ""
    text: str = lxml.html.fragment_fromstring(fragment, create_parent="div").text_content()
    return text
