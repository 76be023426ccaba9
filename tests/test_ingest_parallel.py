"""Parallel parsing gives the same articles, in the same order, as parsing in process."""

from __future__ import annotations

import pickle
from pathlib import Path
from zoneinfo import ZoneInfo

from publisher.exceptions import IngestError
from publisher.ingest import IngestOptions, read_files
from publisher.ingest.parallel import MIN_FILES_FOR_POOL

OPTIONS = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo("UTC"))


def test_ingest_error_keeps_path_and_line_across_processes() -> None:
    error = pickle.loads(pickle.dumps(IngestError("no title", path="a.md", line=3)))
    assert str(error) == "a.md:3: no title"


def test_pool_and_serial_agree_in_order_with_errors(tmp_path: Path) -> None:
    paths = []
    for i in range(MIN_FILES_FOR_POOL + 10):
        path = tmp_path / f"{i:04d}.md"
        text = "" if i % 50 == 7 else f"---\ntitle: Story {i}\ndate: 2026-11-01\n---\nBody {i}.\n"
        path.write_text(text)
        paths.append(path)
    serial = list(read_files(paths, OPTIONS, workers=1))
    pooled = list(read_files(paths, OPTIONS, workers=2))
    assert [p for p, _ in pooled] == paths
    assert [[repr(x) for x in r] for _, r in pooled] == [[repr(x) for x in r] for _, r in serial]
    errors = [r[0] for _, r in pooled if isinstance(r[0], IngestError)]
    assert len(errors) == 5
    assert all(str(e).endswith(": empty file") and e.path for e in errors)
