"""A depth limit for HTML, applied in one linear pass before any HTML parser sees the text.

Both parsers we hand HTML to misbehave on deep nesting: libxml2 (lxml, for pages) stops
building the tree at 256 levels and the page comes out with an empty body, and html5ever
(nh3, the sanitiser) checks the open-element stack for every block start, so 100,000
nested ``<div>`` take minutes (quadratic in depth). No story needs more than a few dozen
levels, so tags below :data:`MAX_DEPTH` are removed here and their text is kept: the
article loses nesting, never words, and the caller warns about it.

This is a tag scanner, not a parser: it only has to count depth the way a browser would,
closely enough that real markup is never touched. Elements that have no end tag (``br``,
``img``) or whose end tag is optional (``p``, ``li``, ``td``: the parser closes them by
itself) do not count; an end tag closes the nearest open element of its name and those
opened inside it; the text of ``script``, ``style`` and the like is skipped whole.
"""

from __future__ import annotations

import re

MAX_DEPTH = 100
"""Open elements allowed around a tag before it is removed."""

_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
})  # fmt: skip
_OPTIONAL_END = frozenset({
    "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option",
    "optgroup", "rb", "rt", "rp", "colgroup", "caption", "html", "head", "body",
})  # fmt: skip
_RAW_TEXT = frozenset({
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
})  # fmt: skip
_TOKEN = re.compile(r"<!--.*?(?:-->|\Z)|<(/?)([A-Za-z][A-Za-z0-9:-]*)(?:\s[^>]*)?/?>", re.DOTALL)


def flatten(html: str, limit: int = MAX_DEPTH) -> tuple[str, int]:
    """``html`` with every counted tag nested deeper than ``limit`` removed, and how many
    were removed (0: the text is returned as it was)."""
    if html.count("<") <= limit:
        return html, 0  # each level needs a tag: this cannot be too deep
    lowered = html.lower()
    pieces: list[str] = []
    stack: list[tuple[str, bool]] = []  # (name, kept)
    open_count: dict[str, int] = {}
    removed = 0
    copied = 0  # html[:copied] is in pieces, minus the removed tags
    skip_to = 0  # end of the raw text of a script/style element
    for match in _TOKEN.finditer(html):
        if match.start() < skip_to:
            continue
        closing, name = match.group(1), (match.group(2) or "").lower()
        if not name or name in _VOID or name in _OPTIONAL_END:
            continue
        if name in _RAW_TEXT:
            if not closing:  # its text holds no tags; it never nests
                end = lowered.find(f"</{name}", match.end())
                skip_to = len(html) if end < 0 else end
            continue
        if not closing:
            kept = len(stack) < limit
            stack.append((name, kept))
            open_count[name] = open_count.get(name, 0) + 1
        else:
            if not open_count.get(name):
                continue  # a stray end tag: the parser ignores it too
            while stack:
                inner, kept = stack.pop()
                open_count[inner] -= 1
                if inner == name:
                    break
        if not kept:
            pieces.append(html[copied : match.start()])
            copied = match.end()
            removed += 1
    if not removed:
        return html, 0
    pieces.append(html[copied:])
    return "".join(pieces), removed
