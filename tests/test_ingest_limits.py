"""Pathological input through ``articles add``: refused with one line, or accepted with a
warning line, never stored as an empty body (docs/ingest.md, "Limits")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from publisher.cli import main
from publisher.ingest.nesting import MAX_DEPTH, flatten


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--root", str(project), *args])


@pytest.fixture
def site(project: Path) -> Path:
    assert run(project, "init").exit_code == 0
    return project


def stored(project: Path) -> list[dict[str, str]]:
    listed = run(project, "articles", "list", "--json", "--all")
    items: list[dict[str, str]] = json.loads(listed.output)
    return items


def test_a_page_nested_100000_deep_keeps_its_text_with_a_warning(
    site: Path, tmp_path: Path
) -> None:
    deep = "<div>" * 100_000 + "<p>The words at the bottom.</p>" + "</div>" * 100_000
    page = tmp_path / "deep.html"
    page.write_text(f"<html><head><title>Deep page</title></head><body><article>{deep}")
    result = run(site, "articles", "add", str(page))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{page}: warning: HTML nested more than {MAX_DEPTH} levels")
    assert lines[1] == "1 article(s): 1 created, 0 updated, 0 unchanged, 0 failed"
    [article] = stored(site)
    assert article["summary"] == "The words at the bottom."


def test_markdown_with_deep_raw_html_is_flattened_with_a_warning(
    site: Path, tmp_path: Path
) -> None:
    source = tmp_path / "deep.md"
    source.write_text("# Deep\n\n" + "<div>" * 20_000 + "\n\nStill here.\n")
    result = run(site, "articles", "add", str(source))
    assert result.exit_code == 0, result.output
    assert "warning: HTML nested more than" in result.output
    assert "Still here." in stored(site)[0]["summary"]


def test_markdown_nested_past_the_parser_limit_is_refused(site: Path, tmp_path: Path) -> None:
    source = tmp_path / "quotes.md"
    source.write_text("---\ntitle: Quotes\n---\n\nIntro.\n\n" + "> " * 200 + "lost words\n")
    result = run(site, "articles", "add", str(source))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{source}:7: blockquotes or lists nested more than 50 levels deep;"
        " the rest would be lost, so flatten them"
    )
    assert stored(site) == []


def test_a_body_emptied_by_cleaning_is_refused(site: Path, tmp_path: Path) -> None:
    source = tmp_path / "embed.md"
    source.write_text(
        "---\ntitle: Only an embed\n---\n\n<script>track()</script><iframe></iframe>\n"
    )
    result = run(site, "articles", "add", str(source))
    assert result.exit_code == 1
    assert result.output.startswith(f"{source}: the body is empty once cleaned")
    assert stored(site) == []


def add_dated(project: Path, folder: Path, date: str) -> tuple[Path, Result]:
    source = folder / "dated.md"
    source.write_text(f"---\ntitle: Dated\ndate: {date}\n---\n\nText.\n")
    return source, run(project, "articles", "add", str(source))


@pytest.mark.parametrize("date", ["1899-12-31", "2201-01-01", "0224-05-01"])
def test_dates_outside_1900_to_2200_are_refused(site: Path, tmp_path: Path, date: str) -> None:
    source, result = add_dated(site, tmp_path, date)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{source}:3: date '{date}' is outside 1900-2200; check the year"
    )


def test_a_date_years_ahead_is_scheduled_with_a_warning(site: Path, tmp_path: Path) -> None:
    ahead = (datetime.now(UTC) + timedelta(days=800)).date().isoformat()
    source, result = add_dated(site, tmp_path, ahead)
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == (
        f"{source}: warning: date {ahead} is more than a year ahead: the article is"
        " scheduled for then (check the year)"
    )
    published = run(site, "articles", "list", "--json")
    assert json.loads(published.output) == []  # scheduled, not out yet
    assert [item["title"] for item in stored(site)] == ["Dated"]


def test_flatten_keeps_shallow_markup_and_raw_text_untouched() -> None:
    shallow = "<div>" * MAX_DEPTH + "<p>x</p>" + "</div>" * MAX_DEPTH
    assert flatten(shallow) == (shallow, 0)
    script = "<div>" * 150 + "<script>if (a < b) { x = '<div>'; }</script>"
    flat, removed = flatten(script)
    assert removed == 50
    assert flat.endswith("<script>if (a < b) { x = '<div>'; }</script>")
    # a stray end tag deep down does not confuse the count
    stray = "<div>" * 90 + "</span>" * 50 + "<div>" * 20 + "text"
    assert flatten(stray)[1] == 10
