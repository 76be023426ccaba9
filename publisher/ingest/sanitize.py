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

import nh3

from publisher import html_policy
from publisher.html_policy import CLEAN_CONTENT_TAGS, sanitise
from publisher.text import one_line, strip_control
from publisher.types import ArticleInput

_H1 = re.compile(r"<(/?)h1>")
_DEAD_LINK = re.compile(r"<a(?![^>]*\shref=)[^>]*>(.*?)</a>", re.DOTALL)
_BLOCK_END = re.compile(r"<(?:br|hr|/p|/li|/h[1-6]|/td|/th|/blockquote|/figcaption|/pre)\b[^>]*>")
_FIRST_PARAGRAPHS = re.compile(r"<p>(.*?)</p>", re.DOTALL)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\salt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
# Built once: nh3 otherwise turns its options into a sanitiser on every call.
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(CLEAN_CONTENT_TAGS))


def absolute_url(url: str, base: str) -> str | None:
    """``url`` made absolute against the site URL ``base``, read as a folder.

    ``https://news.example.org/news`` is the site's root, so ``img/a.jpg`` lands under
    ``/news/``, not beside it.
    """
    return html_policy.absolute_url(url, base.rstrip("/") + "/")


def clean_html(fragment: str, base: str) -> str:
    """Sanitise an HTML fragment and make its URLs absolute against ``base``.

    Body ``<h1>`` elements become ``<h2>`` because the article title is the page's only
    h1. The allow-list itself is :mod:`publisher.html_policy`, shared with the feeds.
    """

    cleaned = sanitise(fragment, base.rstrip("/") + "/", extra_tags={"h1"})
    # A link whose URL was unsafe keeps only rel="noopener": unwrap it, or it is styled as
    # a link that goes nowhere (anchors cannot nest, so the lazy match is exact).
    cleaned = _DEAD_LINK.sub(r"\1", cleaned)
    return strip_control(_H1.sub(r"<\1h2>", cleaned)).strip()


def html_to_text(fragment: str) -> str:
    """The readable text of an HTML fragment on one line (tags dropped, entities decoded)."""
    spaced = _BLOCK_END.sub(" ", fragment)
    text = _TEXT_ONLY.clean(spaced)
    return one_line(html.unescape(text))


def content_has_text(cleaned: str) -> bool:
    """Whether sanitised HTML shows a reader anything: words, or an image.

    Sanitised markup is well formed, so dropping tags with a pattern is exact here (and
    spares a second sanitiser pass per article).
    """
    return "<img" in cleaned or bool(_TAG.sub("", cleaned).strip())


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


def images_without_alt(cleaned: str) -> int:
    """How many ``<img>`` of sanitised HTML have no alt text (or an empty one).

    An empty ``alt=""`` is right for a purely decorative image, but a newsroom's body
    images carry news: each one is counted so the editor hears of it at ingestion.
    """
    count = 0
    for tag in _IMG.findall(cleaned):
        match = _ALT.search(tag)
        if (
            match is None
            or not any(match.groups())
            or not "".join(filter(None, match.groups())).strip()
        ):
            count += 1
    return count


def alt_text_warning(article: ArticleInput) -> str | None:
    """One warning line for an article with images lacking alt text, else None."""
    missing = images_without_alt(article.content_html)
    if article.image_url and not (article.image_alt or "").strip():
        missing += 1
    if not missing:
        return None
    where = article.source or "input"
    return f"{where}: warning: {missing} image(s) without alt text in {article.title!r}"
