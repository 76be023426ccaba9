"""The inbound sample corpus (tests/data/inbound) and a project to replay it into.

Each sample is a mail written for this project in the shape a real MTA, mailbox provider
or sending service produces; ``expected.json`` names, per file, the shape it imitates and
the events it must yield. The corpus signs its VERP tokens with its own secret key, and
its readers are ``reader1..12@example.com`` (ids 1..12 when added in that order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from publisher.cli import main

CORPUS = Path(__file__).parent / "data" / "inbound"
EXPECTED: dict[str, Any] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
SAMPLES: list[dict[str, Any]] = EXPECTED["samples"]


def run(root: Path, *args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["--root", str(root), *args], input=input)


def corpus_project(project: Path, database_url: str, return_path: str = "") -> Path:
    """A project with the corpus's secret key and its twelve readers (ids 1..12 in order),
    imported by the CLI."""
    lines = [
        f"PUBLISHER_SECRET_KEY={EXPECTED['secret_key']}",
        f"PUBLISHER_DATABASE__URL={database_url}",
        f"PUBLISHER_MAIL__RETURN_PATH={return_path or EXPECTED['return_path']}",
    ]
    project.mkdir(parents=True, exist_ok=True)
    (project / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run(project, "init").exit_code == 0
    readers = project / "readers.csv"
    readers.write_text("email\n" + "\n".join(EXPECTED["subscribers"]) + "\n", encoding="utf-8")
    imported = run(project, "subscribers", "import", str(readers), "--confirmed")
    assert imported.exit_code == 0, imported.output
    return project


def add_article(root: Path, title: str = "Bridge opens") -> None:
    """One article published an hour ago, through ``articles add``."""
    from datetime import UTC, datetime, timedelta

    when = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    source = root / "article.md"
    source.write_text(f'---\ntitle: "{title}"\ndate: {when}\n---\n\n{title}.\n', encoding="utf-8")
    added = run(root, "articles", "add", str(source))
    assert added.exit_code == 0, added.output
