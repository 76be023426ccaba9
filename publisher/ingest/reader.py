"""Reading sources: whole-file checks, decoding, and dispatch to the format parsers.

Everything that makes a *file* unusable (too big, empty, binary, not UTF-8, unknown
format) is checked here, once, before any format-specific code sees the text, so every
format reports those problems with the same words.
"""

from __future__ import annotations

import codecs
import importlib
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from publisher.exceptions import IngestError
from publisher.ingest.detect import detect_format
from publisher.ingest.identity import with_keys
from publisher.ingest.options import FORMATS, IngestOptions
from publisher.text import strip_control
from publisher.types import ArticleInput

Result = list[ArticleInput | IngestError]
# Each format's parser loads when a file of that format comes: an import of Markdown files
# never needs lxml and trafilatura, and every worker of a parsing pool pays its imports.
_PARSERS = {
    "markdown": ("publisher.ingest.markdown", "parse_markdown"),
    "html": ("publisher.ingest.html_page", "parse_html_page"),
    "text": ("publisher.ingest.plaintext", "parse_plain_text"),
    "json": ("publisher.ingest.json_source", "parse_json"),
}


@cache
def _parser(fmt: str) -> Callable[..., Any]:
    """The parse function of format ``fmt`` (one of :data:`_PARSERS`)."""
    module, name = _PARSERS[fmt]
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


_HTML_CHARSET = re.compile(
    rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)"
    rb"|^\s*<\?xml[^>]+encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)",  # saved XHTML
    re.IGNORECASE,
)
# Browsers read these labels as windows-1252 (WHATWG Encoding): pages labelled Latin-1 use
# its curly quotes and dashes at 0x80-0x9f, which Latin-1 would turn into control characters.
_AS_WINDOWS_1252 = frozenset({"latin_1", "iso8859-1", "ascii", "cp1252"})


def parse_bytes(
    data: bytes,
    source: str,
    options: IngestOptions,
    fmt: str | None = None,
    now: datetime | None = None,
    key: str | None = None,
) -> Result:
    """Articles from the bytes of one source.

    ``fmt`` defaults to the format named by ``source``'s extension. Whole-file problems
    raise IngestError; a JSON list returns bad items as IngestErrors in their place. ``now``
    is the publication time for sources without a date (default: the current time).
    ``key`` is the source's identity (see :mod:`publisher.ingest.identity`), if it has one.
    """
    fmt = fmt or detect_format(source)
    if fmt is None:
        raise IngestError(f"unknown format; expected one of {', '.join(FORMATS)}", source)
    if fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", source)
    _check_size(len(data), source, options)
    text = _decode(data, source, fmt)
    parsed = _parser(fmt)(text, source, options, now)
    results: Result = parsed if fmt == "json" else [parsed]
    if key is None:
        return results
    return with_keys(results, key, listed=fmt == "json" and text.lstrip().startswith("["))


def read_file(
    path: Path, options: IngestOptions, fmt: str | None = None, key: str | None = None
) -> Result:
    """Articles from the file at ``path`` (checked for size before it is read)."""
    source = str(path)
    fmt = fmt or detect_format(source)
    if fmt is None:
        raise IngestError(f"unknown format; expected one of {', '.join(FORMATS)}", source)
    try:
        _check_size(path.stat().st_size, source, options)
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read file: {exc.strerror or exc}", source) from exc
    return parse_bytes(data, source, options, fmt, key=key)


def _check_size(size: int, source: str, options: IngestOptions) -> None:
    """Refuse sources over the size limit before spending time parsing them."""
    if size > options.max_file_bytes:
        raise IngestError(
            f"file is {size} bytes, over the {options.max_file_bytes}-byte limit", source
        )


def _decode(data: bytes, source: str, fmt: str) -> str:
    """The text of a source: UTF-8 (a BOM is dropped), or an HTML page's declared charset.

    Control characters (other than tab and line breaks) are removed here.

    A NUL byte means a binary file (or UTF-16, which no editor writes by accident for
    these formats); reporting that beats reporting a confusing parse error.
    """
    if not data.strip():
        raise IngestError("empty file", source)
    if b"\x00" in data:
        raise IngestError("binary file", source)
    encoding = _html_charset(data) if fmt == "html" else "utf-8"
    try:
        # windows-1252 leaves five bytes undefined (browsers show C1 controls); escaped, they
        # are dropped below with the other control characters instead of failing the page.
        text = data.decode(encoding, "surrogateescape" if encoding == "cp1252" else "strict")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        name = "UTF-8" if encoding == "utf-8" else encoding
        raise IngestError(
            f"not {name} (invalid byte 0x{byte:02x} at offset {exc.start})", source, line
        ) from None
    # Control characters are dropped before any parser sees them: YAML and JSON reject
    # some outright, and none of them belongs in an article.
    text = strip_control(text.removeprefix("\ufeff"))
    if not text.strip():
        raise IngestError("empty file", source)
    return text


def _html_charset(data: bytes) -> str:
    """The charset an HTML page declares in its first 2 KB, if Python knows it; else UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8"
    match = _HTML_CHARSET.search(data[:2048])
    if match is None:
        return "utf-8"
    try:
        name = codecs.lookup((match.group(1) or match.group(2)).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return "utf-8"
    return "cp1252" if name in _AS_WINDOWS_1252 else name
