"""Ingest: turn article sources (Markdown, HTML pages, JSON, plain-text copy) into
:class:`publisher.types.ArticleInput`.

Every format goes through one normalisation path (:mod:`publisher.ingest.fields`): text is
stripped of control characters, HTML is sanitised with an allow-list and its URLs made
absolute against the site URL, dates are parsed strictly and made time-zone aware.

Callers should know:

* A source without any date is published at ``now`` (``parse_bytes``'s argument, default
  the current time); a date that is given but invalid or impossible is an IngestError.
* Whole-file problems raise IngestError; a JSON list returns bad items as IngestErrors in
  their place, so one bad item does not cost the others.
* ``slug`` is only set when the source gives one; ``guid``/``url`` likewise.
* ``source_key`` (the identity of a source without a guid) is set when the caller gives an
  import root (``read_files(..., root=)``) or a key (``parse_bytes(..., key=)``).
* What was accepted but changed or doubtful (nesting flattened, a date years ahead) is in
  ``ArticleInput.warnings``; the caller shows it.

This package imports only ``publisher.types``, ``publisher.exceptions`` and
``publisher.text`` from the rest of the publisher.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from publisher.ingest.detect import detect_format, iter_source_files
from publisher.ingest.options import FORMATS, IngestOptions
from publisher.ingest.sanitize import alt_text_warning

if TYPE_CHECKING:
    from publisher.ingest.parallel import read_files
    from publisher.ingest.reader import parse_bytes, read_file

# The readers (trafilatura, htmldate, the Markdown and front-matter parsers) load on first
# use: every command imports this package, few of them read an article, and the senders of
# a digest never do.
_LAZY = {
    "read_files": "publisher.ingest.parallel",
    "parse_bytes": "publisher.ingest.reader",
    "read_file": "publisher.ingest.reader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "FORMATS",
    "IngestOptions",
    "alt_text_warning",
    "detect_format",
    "iter_source_files",
    "parse_bytes",
    "read_file",
    "read_files",
]
