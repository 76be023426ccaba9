"""JSON Feed 1.1 (feedgen has no writer for it): J1, J2.

The output is ``json.dumps`` of a dict built in a fixed key order, so the same feed gives
the same bytes (H1). ``ensure_ascii=False`` keeps it readable; every string was cleaned of
lone surrogates in the model, so encoding to UTF-8 cannot fail.
"""

from __future__ import annotations

import json
from typing import Any

from publisher.feeds.model import FeedItem, FeedSpec

VERSION = "https://jsonfeed.org/version/1.1"


def _item(item: FeedItem, language: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "content_html": item.content_html,
        "summary": item.summary,
    }
    if not item.content_html.strip():
        # J2: an article of only a title (or only scripts, removed) still has readable content.
        del data["content_html"]
        data["content_text"] = item.summary or item.title
    if item.image:
        data["image"] = item.image.url
    data["date_published"] = item.published.isoformat().replace("+00:00", "Z")
    data["date_modified"] = item.changed.isoformat().replace("+00:00", "Z")
    if item.authors:
        data["authors"] = [{"name": a.name} for a in item.authors]
    if item.categories:
        data["tags"] = [c.name for c in item.categories]
    data["language"] = item.language or language  # J1: the item's own, else the feed's
    return data


def render_json(spec: FeedSpec) -> bytes:
    """The JSON Feed document for ``spec`` as UTF-8 bytes."""
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": spec.title,
        "home_page_url": spec.home_url,
        "feed_url": spec.self_urls["json"],
        "description": spec.description,
        "language": spec.language,
        "authors": [{"name": spec.author}],
    }
    if spec.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in spec.hubs]
    feed["items"] = [_item(item, spec.language) for item in spec.items]
    text = json.dumps(feed, ensure_ascii=False, indent=2) + "\n"
    return text.encode("utf-8")
