"""What the list commands print: values users copy are never cut; --wide, --quiet; --no-web."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import main

SLUG = "council-approves-the-riverside-flood-defence-scheme-at-last"
EMAIL = "a.very.long.address.for.a.reader.of.the.riverton.ledger@subscribers.example.org"


def _run(project: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--root", str(project), *args], env={})
    assert result.exit_code == 0, result.output
    return result.output


def _column(output: str, index: int) -> str:
    """The text of one table column, its folded pieces joined (box-drawing rows skipped)."""
    pieces = []
    for line in output.splitlines():
        cells = line.split("│")
        if len(cells) > 2:
            pieces.append(cells[index].strip())
    return "".join(pieces)


def test_slugs_and_addresses_fold_instead_of_being_cut(project: Path) -> None:
    _run(project, "init")
    story = project / "story.md"
    story.write_text(f"---\ntitle: Flood scheme\nslug: {SLUG}\n---\nBody.\n", encoding="utf-8")
    _run(project, "articles", "add", str(story))
    _run(project, "subscribers", "add", EMAIL, "--confirmed")

    narrow = _run(project, "articles", "list")  # not a terminal: Rich assumes 80 columns
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "…" not in _column(narrow, -2)
    assert SLUG in _column(narrow, -2)
    wide = _run(project, "articles", "list", "--wide")
    assert any(SLUG in line for line in wide.splitlines())

    people = _run(project, "subscribers", "list")
    assert EMAIL in _column(people, 2)
    assert any(
        EMAIL in line for line in _run(project, "subscribers", "list", "--wide").splitlines()
    )


def test_quiet_prints_nothing_but_still_works(project: Path) -> None:
    _run(project, "init", "--samples", str(Path("examples/articles").resolve()))
    assert _run(project, "feeds", "build", "--quiet") == ""
    assert (project / "feeds" / "rss.xml").exists()
    assert _run(project, "feeds", "build") != ""


@pytest.mark.slow
def test_serve_no_web_runs_the_scheduler_without_a_port(project: Path) -> None:
    _run(project, "init")
    environ = {**os.environ, "PUBLISHER_SCHEDULE__LEADER_POLL_SECONDS": "0.2"}
    environ.pop("PUBLISHER_ROOT", None)
    log = project / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "publisher",
                "--root",
                str(project),
                "serve",
                "--no-web",
                "--no-worker",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environ,
        )
        deadline = time.monotonic() + 20
        while "this process leads the scheduler" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    text = log.read_text()
    assert "no address (--no-web)" in text and "home page" not in text
    assert text.rstrip().endswith("stopped")


def test_commands_that_print_data_take_json(project: Path) -> None:
    samples = str(Path("examples/articles").resolve())
    _run(project, "init")
    imported = json.loads(_run(project, "articles", "import", samples, "--json"))
    assert {a["outcome"] for a in imported["articles"]} == {"created"}
    assert imported["errors"] == [] and "0 failed" in imported["summary"]
    again = json.loads(
        _run(project, "articles", "add", f"{samples}/03-wetland-heron-count.md", "--json")
    )
    assert again["articles"] == [{"slug": "sallow-marsh-heron-count", "outcome": "unchanged"}]

    csv_path = project / "list.csv"
    csv_path.write_text("email\nann@example.org\nnot-an-address\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["--root", str(project), "subscribers", "import", str(csv_path), "--confirmed", "--json"],
        env={},
    )
    assert result.exit_code == 1  # a rejected row, as without --json
    report = json.loads(result.output)
    assert report["imported"] == 1 and report["rejected"][0]["line"] == 3

    _run(project, "articles", "add", str(Path("examples/demo/todays-briefing.md").resolve()))
    due = json.loads(_run(project, "feeds", "publish-due", "--json"))
    assert set(due) == {"due", "written"}
    preview = json.loads(_run(project, "digest", "preview", "--out", str(project / "p"), "--json"))
    assert [Path(f).name for f in preview["files"]] == ["digest.html", "digest.txt", "digest.eml"]
    assert all(Path(f).exists() for f in preview["files"])
