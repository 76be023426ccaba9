"""Regressions found by an outside-in review with hostile, real-world inputs.

Each test feeds the product what a user or a real export would, through the CLI or the
ingest functions, and checks what comes out.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from publisher.cli import main


def test_init_creates_a_root_folder_that_does_not_exist_yet(tmp_path: Path) -> None:
    root = tmp_path / "new" / "site"
    result = CliRunner().invoke(
        main, ["--root", str(root), "init"], env={"PUBLISHER_SECRET_KEY": ""}
    )
    assert result.exit_code == 0, result.output
    assert (root / ".env").read_text().startswith("PUBLISHER_SECRET_KEY=")
    assert (root / "var" / "publisher.db").exists()
