"""Parsing many files in worker processes while the caller stores what is ready.

Parsing (YAML, Markdown, HTML sanitising) is CPU work that does not touch the store, so a
large import parses in a process pool and stores in the calling process, in source order:
on two cores that roughly doubles the articles per second. Small batches are parsed in
process: a pool costs more to start than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from publisher.exceptions import IngestError
from publisher.ingest.identity import source_key
from publisher.ingest.options import IngestOptions
from publisher.ingest.reader import Result, read_file

MIN_FILES_FOR_POOL = 200
CHUNK = 32


def _read_one(path: Path, options: IngestOptions, fmt: str | None, root: Path | None) -> Result:
    """Parse one file; whole-file errors come back as values (they cross the process line)."""
    try:
        return read_file(path, options, fmt, None if root is None else source_key(path, root))
    except IngestError as exc:
        return [exc]


def read_files(
    paths: Iterable[Path],
    options: IngestOptions,
    fmt: str | None = None,
    workers: int | None = None,
    root: Path | None = None,
) -> Iterator[tuple[Path, Result]]:
    """Each path with its parse result, in the order given.

    With ``root``, each article carries its path relative to ``root`` as its identity
    (:mod:`publisher.ingest.identity`). Uses ``workers`` processes (default: the CPUs
    available, at most 4) once there are at least :data:`MIN_FILES_FOR_POOL` files; reads
    in process otherwise.
    """
    ordered = list(paths)
    root = None if root is None else root.resolve()
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    count = min(4, available) if workers is None else workers
    if count < 2 or len(ordered) < MIN_FILES_FOR_POOL:
        for path in ordered:
            yield path, _read_one(path, options, fmt, root)
        return
    # "spawn" gives workers a clean interpreter: no inherited database connections or
    # threads (the feed notifier, the scheduler) from the parent.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        work = partial(_read_one, options=options, fmt=fmt, root=root)
        yield from zip(ordered, pool.map(work, ordered, chunksize=CHUNK), strict=True)
