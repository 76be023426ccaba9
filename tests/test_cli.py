"""The command line end to end: init, import, list, show, remove, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from publisher.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples" / "articles"

GOOD_MD = """---
title: Riverside path opens
date: 2026-11-20T08:30:00+00:00
categories: [Local]
---

The path opened on Friday.
"""


def run(project: Path, *args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["--root", str(project), *args], input=stdin)


@pytest.fixture
def initialised(project: Path) -> Path:
    result = run(project, "init")
    assert result.exit_code == 0, result.output
    return project


def test_init_creates_store_and_secret_key_once(project: Path) -> None:
    first = run(project, "init")
    assert first.exit_code == 0, first.output
    assert (project / "var" / "publisher.db").exists()
    env = (project / ".env").read_text()
    assert env.startswith("PUBLISHER_SECRET_KEY=") and len(env.strip()) > 50
    assert "secret key written" in first.output
    second = run(project, "init")
    assert second.exit_code == 0
    assert (project / ".env").read_text() == env
    assert "secret key written" not in second.output


def test_init_creates_a_root_folder_that_does_not_exist(tmp_path: Path) -> None:
    """`publisher --root new/site init` on a fresh machine: a project, not a traceback."""
    root = tmp_path / "new" / "site"
    result = run(root, "init")
    assert result.exit_code == 0, result.output
    assert (root / ".env").read_text().startswith("PUBLISHER_SECRET_KEY=")
    assert (root / "var" / "publisher.db").exists()


def test_init_keeps_a_key_from_the_environment(project: Path) -> None:
    result = CliRunner().invoke(
        main, ["--root", str(project), "init"], env={"PUBLISHER_SECRET_KEY": "x" * 40}
    )
    assert result.exit_code == 0
    assert not (project / ".env").exists()


def test_import_examples_then_list_json_in_utc(initialised: Path) -> None:
    result = run(initialised, "articles", "import", str(EXAMPLES))
    assert result.exit_code == 0, result.output
    listed = run(initialised, "articles", "list", "--json", "--limit", "100")
    items = json.loads(listed.output)
    assert len(items) >= 14
    assert all(item["categories"] for item in items if not item["source"].endswith(".txt"))
    for item in items:
        assert item["published_at"].endswith("+00:00")
        assert item["guid"] and item["slug"] and item["url"].startswith("http")
    sources = {Path(item["source"]).suffix for item in items}
    assert sources == {".md", ".html", ".json", ".txt"}
    again = run(initialised, "articles", "import", str(EXAMPLES))
    assert again.exit_code == 0
    assert "0 created, 0 updated" in again.output


def test_bad_files_get_one_line_each_and_the_rest_goes_in(initialised: Path) -> None:
    folder = initialised / "incoming"
    folder.mkdir()
    (folder / "a-good.md").write_text(GOOD_MD)
    (folder / "b-notitle.md").write_text("---\ndate: 2026-11-20\n---\n\nNo title here.\n")
    (folder / "c-empty.md").write_text("")
    (folder / "d-binary.md").write_bytes(b"\x00\x01\x02\xff" * 10)
    (folder / "e-latin1.md").write_bytes("---\ntitle: Caf\xe9\n---\nx".encode("latin-1"))
    (folder / "f-baddate.md").write_text("---\ntitle: T\ndate: 2026-02-30\n---\nx\n")
    result = run(initialised, "articles", "import", str(folder))
    assert result.exit_code == 1
    error_lines = [line for line in result.output.splitlines() if "incoming" in line]
    assert len(error_lines) == 5
    for name in ("b-notitle", "c-empty", "d-binary", "e-latin1", "f-baddate"):
        assert any(line.startswith(str(folder / name)) for line in error_lines), name
    assert "1 created" in result.output
    listed = json.loads(run(initialised, "articles", "list", "--json").output)
    assert [a["title"] for a in listed] == ["Riverside path opens"]


def test_strict_stops_at_first_bad_file(initialised: Path) -> None:
    folder = initialised / "incoming"
    folder.mkdir()
    (folder / "a-bad.md").write_text("")
    (folder / "b-good.md").write_text(GOOD_MD)
    result = run(initialised, "articles", "import", "--strict", str(folder))
    assert result.exit_code == 1
    assert json.loads(run(initialised, "articles", "list", "--json").output) == []


def test_failed_update_leaves_stored_article_unchanged(initialised: Path) -> None:
    path = initialised / "story.md"
    path.write_text(GOOD_MD.replace("---\ntitle", "---\nguid: tag:story-1\ntitle"))
    assert run(initialised, "articles", "add", str(path)).exit_code == 0
    path.write_text("---\nguid: tag:story-1\ntitle: [broken\n---\nx\n")
    result = run(initialised, "articles", "add", str(path))
    assert result.exit_code == 1
    shown = json.loads(run(initialised, "articles", "show", "tag:story-1", "--json").output)
    assert shown["title"] == "Riverside path opens"


def test_add_from_stdin_show_and_remove(initialised: Path) -> None:
    added = run(initialised, "articles", "add", "--format", "markdown", "-", stdin=GOOD_MD)
    assert added.exit_code == 0, added.output
    shown = json.loads(
        run(initialised, "articles", "show", "riverside-path-opens", "--json").output
    )
    assert shown["categories"] == [{"slug": "local", "name": "Local"}]
    removed = run(initialised, "articles", "remove", "riverside-path-opens")
    assert removed.exit_code == 0 and "retracted" in removed.output
    assert json.loads(run(initialised, "articles", "list", "--json").output) == []
    missing = run(initialised, "articles", "show", "nope")
    assert missing.exit_code == 1
    assert missing.output == "error: no article matches 'nope'\n"


def test_script_and_control_characters_never_reach_the_store(initialised: Path) -> None:
    path = initialised / "evil.md"
    path.write_text(
        '---\ntitle: "Bad\\x07 title\\u0000"\ndate: 2026-11-20T08:00:00Z\n---\n\n'
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> text\n"
    )
    assert run(initialised, "articles", "add", str(path)).exit_code == 0
    shown = json.loads(run(initialised, "articles", "show", "1", "--json").output)
    assert shown["title"] == "Bad title"
    assert "<script" not in shown["content_html"] and "onerror" not in shown["content_html"]


def test_missing_database_folder_and_bad_url_are_one_line(project: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--root", str(project), "articles", "list"],
        env={"PUBLISHER_DATABASE__URL": f"sqlite:///{project}/missing/x.db"},
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "no database at" in result.output
    unreachable = CliRunner().invoke(
        main,
        ["--root", str(project), "articles", "list"],
        env={"PUBLISHER_DATABASE__URL": "postgresql+psycopg://x@127.0.0.1:1/x"},
    )
    assert unreachable.exit_code == 1
    assert unreachable.output.count("\n") == 1
    assert unreachable.output.startswith("error: cannot migrate the database")


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "publisher", "--help"], capture_output=True, text=True, check=True
    )
    assert "articles" in result.stdout and "config" in result.stdout


def test_category_option_fills_sources_without_one(initialised: Path) -> None:
    copy = initialised / "copy.txt"
    copy.write_text(
        "THE RIVERTON LEDGER\n\n18 November 2026\n\nBus route changes next month\n\n"
        "The number 14 bus will skip the estate from January.\n"
    )
    result = run(initialised, "articles", "add", "--category", "Local News", str(copy))
    assert result.exit_code == 0, result.output
    item = json.loads(run(initialised, "articles", "list", "--json").output)[0]
    assert item["categories"] == [{"slug": "local-news", "name": "Local News"}]
