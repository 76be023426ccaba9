"""JSON sources: one object, or a list of objects, with the same keys as front matter.

The body comes from ``content``/``content_html``/``body`` (HTML) or
``content_markdown``/``markdown`` (Markdown). In a list, one bad item must not cost the
others, so it comes back as an IngestError in its place, pointing at the item's line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from publisher.exceptions import IngestError
from publisher.ingest.fields import build_article, raw_from_mapping
from publisher.ingest.markdown import render_markdown
from publisher.ingest.options import IngestOptions
from publisher.types import ArticleInput

_HTML_KEYS = ("content_html", "content", "body")
_MARKDOWN_KEYS = ("content_markdown", "markdown")
_WHITESPACE = " \t\r\n"


def parse_json(
    text: str, source: str, options: IngestOptions, now: datetime | None = None
) -> list[ArticleInput | IngestError]:
    """Articles from a JSON document; malformed JSON or a bad single object raises."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"not valid JSON: {exc.msg}", source, exc.lineno) from None
    except RecursionError:
        raise IngestError("not valid JSON: nested too deeply", source) from None
    if isinstance(data, dict):
        return [_article(data, source, options, now, line=None)]
    if not isinstance(data, list):
        raise IngestError("JSON must be an object or a list of objects", source, 1)
    lines = _item_lines(text)
    results: list[ArticleInput | IngestError] = []
    for index, item in enumerate(data):
        line = lines[index] if index < len(lines) else None
        if not isinstance(item, dict):
            results.append(IngestError(f"item {index + 1} is not an object", source, line))
            continue
        try:
            results.append(_article(item, source, options, now, line))
        except IngestError as error:
            results.append(IngestError(f"item {index + 1}: {error.reason}", source, line))
    return results


def _article(
    item: Mapping[str, object],
    source: str,
    options: IngestOptions,
    now: datetime | None,
    line: int | None,
) -> ArticleInput:
    """One article from one JSON object; every field error points at ``line``."""
    values = {str(key).lower(): value for key, value in item.items()}
    raw = raw_from_mapping(values, {})
    raw.body_html = _body(values, source, line)
    return build_article(raw, options, source, now)


def _body(values: Mapping[str, object], source: str, line: int | None) -> str:
    """The body as HTML: the first HTML key present, else the first Markdown key."""
    for key in (*_HTML_KEYS, *_MARKDOWN_KEYS):
        value = values.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise IngestError(f"{key} must be text", source, line)
        return value if key in _HTML_KEYS else render_markdown(value)
    return ""


def _item_lines(text: str) -> list[int]:
    """The 1-based line on which each element of a top-level JSON array starts.

    The document is already known to be valid, so this walks it with ``raw_decode``
    (which reports where each value ends) instead of a second full parser.
    """
    decoder = json.JSONDecoder()
    lines: list[int] = []
    line, counted = 1, 0
    try:
        index = _skip(text, 0)
        if text[index] != "[":
            return []
        index = _skip(text, index + 1)
        while text[index] != "]":
            line += text.count("\n", counted, index)
            counted = index
            lines.append(line)
            _, index = decoder.raw_decode(text, index)
            index = _skip(text, index)
            if text[index] == ",":
                index = _skip(text, index + 1)
    except (ValueError, IndexError):
        return lines
    return lines


def _skip(text: str, index: int) -> int:
    """Index of the next non-whitespace character at or after ``index``."""
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index
