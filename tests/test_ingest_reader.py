"""Whole-file checks, format detection and directory walking."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.exceptions import IngestError
from publisher.ingest import (
    FORMATS,
    IngestOptions,
    detect_format,
    iter_source_files,
    parse_bytes,
    read_file,
)
from publisher.types import ArticleInput

DATA = Path(__file__).parent / "data" / "ingest"
OPTIONS = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("a.md", "markdown"),
        ("dir/b.MARKDOWN", "markdown"),
        ("c.html", "html"),
        ("c.htm", "html"),
        ("d.json", "json"),
        ("e.txt", "text"),
        ("e.text", "text"),
        ("f.rst", None),
        ("noext", None),
    ],
)
def test_detect_format_by_extension(path: str, fmt: str | None) -> None:
    assert detect_format(path) == fmt
    assert fmt is None or fmt in FORMATS


def test_iter_source_files_is_sorted_recursive_and_skips_hidden() -> None:
    tree = DATA / "tree"
    found = [p.relative_to(tree).as_posix() for p in iter_source_files(tree)]
    assert found == ["a.txt", "b.md", "sub/c.html", "sub/z.json"]


def test_iter_source_files_on_missing_directory() -> None:
    with pytest.raises(IngestError, match="not a directory"):
        list(iter_source_files(DATA / "does-not-exist"))


@pytest.mark.parametrize(
    ("name", "message", "line"),
    [
        ("empty.md", "empty file", None),
        ("binary.txt", "binary file", None),
        ("invalid-utf8.txt", "not UTF-8 (invalid byte 0xff at offset 6)", 2),
    ],
)
def test_unusable_files(name: str, message: str, line: int | None) -> None:
    with pytest.raises(IngestError) as caught:
        read_file(DATA / "bad" / name, OPTIONS)
    assert caught.value.reason == message
    assert caught.value.line == line
    expected = f"{DATA / 'bad' / name}:{line}" if line else str(DATA / "bad" / name)
    assert str(caught.value) == f"{expected}: {message}"


def test_whitespace_only_is_empty() -> None:
    with pytest.raises(IngestError, match="empty file"):
        parse_bytes(b" \n\t\n", "blank.txt", OPTIONS)


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    big.write_bytes(b"# T\n\n" + b"x" * 95)
    small = IngestOptions(site_url="https://x.org", timezone=ZoneInfo("UTC"), max_file_bytes=60)
    with pytest.raises(IngestError) as caught:
        read_file(big, small)
    assert caught.value.reason == "file is 100 bytes, over the 60-byte limit"
    with pytest.raises(IngestError, match="file is 100 bytes, over the 60-byte limit"):
        parse_bytes(big.read_bytes(), "big.md", small)


def test_unknown_format() -> None:
    with pytest.raises(IngestError, match="unknown format"):
        parse_bytes(b"hello", "notes.rst", OPTIONS)
    with pytest.raises(IngestError, match="unknown format 'rst'"):
        parse_bytes(b"hello", "notes.md", OPTIONS, fmt="rst")


def test_explicit_format_overrides_extension() -> None:
    [article] = parse_bytes(b"# Heading\n\nText\n", "stdin", OPTIONS, fmt="markdown")
    assert isinstance(article, ArticleInput)
    assert article.title == "Heading"
    assert article.source == "stdin"


def test_missing_file_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="cannot read file"):
        read_file(tmp_path / "gone.md", OPTIONS)


def test_utf8_bom_is_ignored() -> None:
    [article] = parse_bytes(b"\xef\xbb\xbf---\ntitle: BOM\n---\nx\n", "bom.md", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "BOM"
