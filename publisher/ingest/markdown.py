"""Markdown sources: YAML front matter for the fields, CommonMark (+ tables) for the body.

Front matter is split with python-frontmatter but loaded with our own YAML loader that
keeps dates as text: PyYAML would otherwise turn ``2024-02-30`` into a constructor crash
without a field name, and ``2024-05-22`` into a naive date, bypassing the strict parser in
:mod:`publisher.ingest.dates`. Raw HTML in the body is allowed here because the shared
sanitiser cleans it afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; python-frontmatter needs it
from frontmatter.default_handlers import YAMLHandler
from markdown_it import MarkdownIt
from markdown_it.token import Token

from publisher.exceptions import IngestError
from publisher.ingest.fields import build_article, raw_from_mapping
from publisher.ingest.options import IngestOptions
from publisher.text import one_line
from publisher.types import ArticleInput

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present


class _TextDateLoader(_SafeLoader):  # type: ignore[misc,valid-type]  # base is untyped (Any)
    """SafeLoader that leaves unquoted dates as strings, for the strict date parser.

    It uses libyaml's C parser when PyYAML has it (the wheels do): front matter is the
    costliest part of importing a Markdown file with the pure-Python parser.
    """


_TextDateLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

MAX_NESTING = 100
"""Block nesting markdown-it follows (each list level is two); below it, it silently drops
the rest of the document, so a deeper source is refused instead."""
_MARKDOWN = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable("table")


def parse_markdown(
    text: str, source: str, options: IngestOptions, now: datetime | None = None
) -> ArticleInput:
    """One article from a Markdown file.

    Without a ``title`` in front matter the first ``# heading`` becomes the title and is
    removed from the body; with one, a leading heading repeating it is removed too (it
    would show the title twice).
    """
    meta, lines, body = split_front_matter(text, source)
    raw = raw_from_mapping(meta, lines)
    env: dict[str, Any] = {}
    tokens = _MARKDOWN.parse(body, env)
    _check_nesting(tokens, source, text.count("\n") - body.count("\n"))
    given = raw.title if isinstance(raw.title, str) else None
    if raw.title is None or (given is not None and not one_line(given)):
        raw.title = _take_heading(tokens, None)
        raw.title_entities = False  # markdown-it already decoded the heading's text
    elif given is not None:
        _take_heading(tokens, one_line(given))
    raw.body_html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, env)
    return build_article(raw, options, source, now)


def _check_nesting(tokens: list[Token], source: str, offset: int) -> None:
    """Refuse a body nested so deep that markdown-it stopped reading it (see MAX_NESTING)."""
    for token in tokens:
        if token.nesting == 1 and token.level >= MAX_NESTING - 1:
            line = offset + token.map[0] + 1 if token.map else None
            raise IngestError(
                f"blockquotes or lists nested more than {MAX_NESTING // 2} levels deep;"
                " the rest would be lost, so flatten them",
                source,
                line,
            )


def split_front_matter(text: str, source: str) -> tuple[dict[str, object], dict[str, int], str]:
    """Front matter values, the file line of each key, and the Markdown body.

    Broken YAML raises IngestError at the offending file line; a file without front matter
    is all body.
    """
    if text.startswith("+++"):
        raise IngestError("TOML front matter (+++) is not supported; use YAML (---)", source, 1)
    handler = YAMLHandler()
    if not handler.detect(text):
        return {}, {}, text
    try:
        front, body = handler.split(text)
    except ValueError:
        raise IngestError("front matter has no closing '---' line", source, 1) from None
    # ``front`` starts right after the opening boundary match, which may have swallowed
    # blank lines; count them so YAML's 0-based lines map onto file lines.
    opening = handler.FM_BOUNDARY.match(text)
    first = text.count("\n", 0, opening.end() if opening else 0) + 1
    try:
        meta, node = _load_yaml(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = first + mark.line if mark is not None else None
        raise IngestError(
            f"front matter is not valid YAML: {one_line(problem)}", source, line
        ) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise IngestError(f"front matter is not valid YAML: {one_line(str(exc))}", source) from None
    if meta is None:
        return {}, {}, body
    if not isinstance(meta, dict):
        raise IngestError("front matter must be a mapping", source, first + 1)
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines.setdefault(str(key_node.value).lower(), first + key_node.start_mark.line)
    return {str(key): value for key, value in meta.items()}, lines, body


def _load_yaml(front: str) -> tuple[object, object]:
    """The front matter's value and its node tree (for key lines), from one parse."""
    loader = _TextDateLoader(front)
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return value, node


def _take_heading(tokens: list[Token], expected: str | None) -> str | None:
    """Remove the first ``<h1>`` and return its text.

    With ``expected`` it is only removed when it is the first block and repeats that title
    (case-insensitively); otherwise the first h1 anywhere is taken.
    """
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.tag != "h1":
            if expected is not None:
                return None
            continue
        text = _inline_text(tokens[index + 1])
        if expected is not None and text.casefold() != expected.casefold():
            return None
        del tokens[index : index + 3]
        return text
    return None


def _inline_text(token: Token) -> str:
    """Plain text of an inline token: text, code spans and raw HTML as written (a title is
    text: ``# vector<int> explained`` keeps its ``<int>``); emphasis marks are Markdown's."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return one_line("".join(parts))


def render_markdown(text: str) -> str:
    """Markdown to (unsanitised) HTML, with the same settings as Markdown files."""
    rendered: str = _MARKDOWN.render(text)
    return rendered
