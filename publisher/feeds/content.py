"""Article HTML made safe and self-contained for a feed reader (R7, R8, R6).

The ingest step already sanitises what it stores, but articles also arrive through the API
and from older imports, and a feed is read by software we do not control: this is a second,
independent allow-list pass. A reader has no base URL, so every ``src``/``href`` is made
absolute against the article's own URL, and the lead image is put into the content too,
because many readers show only the content.
"""

from __future__ import annotations

import html

import lxml.html

from publisher.html_policy import absolute_url, sanitise

__all__ = ["absolute_url", "clean_content", "plain_text", "with_image"]


def clean_content(fragment: str, base: str) -> str:
    """Allow-listed HTML with every link and image URL absolute against ``base``."""
    return sanitise(fragment, base)


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
