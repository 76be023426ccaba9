"""Which files are article sources, and which format each one is in (by extension)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePath

from publisher.exceptions import IngestError

_EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".txt": "text",
    ".text": "text",
}


def detect_format(path: str) -> str | None:
    """The format named by ``path``'s extension (case-insensitive), or ``None`` if unknown.

    Only the extension counts: sniffing content would make the same file change format
    when its first line is edited, which is surprising in a directory of sources.
    """
    return _EXTENSIONS.get(PurePath(path).suffix.lower())


def iter_source_files(directory: Path) -> Iterator[Path]:
    """Every source file under ``directory``, recursively, in sorted (tree) order.

    Hidden files and directories (name starting with ``.``) are skipped, as editors and
    version control keep their own files there; so are files with unknown extensions.
    Symlinked directories are not followed, so a link loop cannot make this endless.
    """
    if not directory.is_dir():
        raise IngestError("not a directory", path=directory)
    found: list[tuple[tuple[str, ...], Path]] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or detect_format(name) is None:
                continue
            path = Path(root) / name
            if path.is_file():
                found.append((path.relative_to(directory).parts, path))
    found.sort(key=lambda item: item[0])
    for _, path in found:
        yield path
