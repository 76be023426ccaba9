"""Which story a source is: the key that finds its article again on the next import.

Without a guid an article is identified by where it came from, never by its title: two
files may carry the same headline, and a headline gets edited. The key is the file's path
relative to the import root (``news/2024/budget.md``), so a tree can move on disk and
still update the same articles; an item of a JSON list adds ``#`` and its slug (given, or
derived from its title; ``-2``, ``-3`` for repeats within the file).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from publisher.exceptions import IngestError
from publisher.text import slugify
from publisher.types import ArticleInput


def source_key(path: Path, resolved_root: Path) -> str:
    """``path`` relative to the root in ``/`` form, or its absolute path when outside.

    The caller resolves the root (symlinks, ``..``) once for a whole import: resolving it
    again for every file was a tenth of the cost of parsing one.
    """
    resolved = path.resolve()
    try:
        return resolved.relative_to(resolved_root).as_posix()
    except ValueError:
        return resolved.as_posix()


def with_keys(
    results: list[ArticleInput | IngestError], key: str, listed: bool
) -> list[ArticleInput | IngestError]:
    """``results`` of one source with their keys: ``key`` itself, or ``key#slug`` per list item."""
    if not listed:
        return [r if isinstance(r, IngestError) else replace(r, source_key=key) for r in results]
    seen: dict[str, int] = {}
    keyed: list[ArticleInput | IngestError] = []
    for result in results:
        if isinstance(result, IngestError):
            keyed.append(result)
            continue
        name = result.slug or slugify(result.title)
        seen[name] = seen.get(name, 0) + 1
        suffix = name if seen[name] == 1 else f"{name}-{seen[name]}"
        keyed.append(replace(result, source_key=f"{key}#{suffix}"))
    return keyed
