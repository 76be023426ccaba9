"""A newsroom's own templates (PUBLISHER_TEMPLATES__DIR) win over the built-in ones, file by
file: a template missing in the newsroom's folder falls back to the built-in one."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from publisher.cli import main

ROOT = Path(__file__).resolve().parent.parent
BRIEFING = ROOT / "examples" / "demo" / "todays-briefing.md"


def test_a_template_in_the_newsroom_folder_changes_the_digest(project: Path) -> None:
    own = project / "our-templates"
    (own / "email").mkdir(parents=True)
    built_in = (ROOT / "templates" / "email" / "digest.txt.j2").read_text(encoding="utf-8")
    (own / "email" / "digest.txt.j2").write_text(
        "From the Override Desk of {{ site.title }}\n" + built_in, encoding="utf-8"
    )
    env = {"PUBLISHER_TEMPLATES__DIR": str(own), "PUBLISHER_SECRET_KEY": "k" * 48}
    runner = CliRunner()
    root = ["--root", str(project)]
    assert runner.invoke(main, [*root, "init"], env=env).exit_code == 0
    assert runner.invoke(main, [*root, "articles", "add", str(BRIEFING)], env=env).exit_code == 0

    out = project / "preview"
    result = runner.invoke(main, [*root, "digest", "preview", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    text = (out / "digest.txt").read_text(encoding="utf-8")
    assert text.startswith("From the Override Desk of Example News")
    assert "Unsubscribe: https://news.example.org/unsubscribe" in text  # still personalised
    # The HTML template is not in the newsroom's folder: the built-in one is used.
    assert "This morning in Riverton" in (out / "digest.html").read_text(encoding="utf-8")

    default = project / "default"
    plain = {"PUBLISHER_SECRET_KEY": "k" * 48}
    result = runner.invoke(main, [*root, "digest", "preview", "--out", str(default)], env=plain)
    assert result.exit_code == 0, result.output
    assert "Override Desk" not in (default / "digest.txt").read_text(encoding="utf-8")


def test_a_stylesheet_in_the_newsroom_folder_is_served(project: Path) -> None:
    from webkit import TestClient

    from publisher.config import load_settings
    from publisher.core import make_publisher
    from publisher.web import create_app

    own = project / "look"
    (own / "web").mkdir(parents=True)
    shutil.copy(ROOT / "templates" / "web" / "site.css", own / "web" / "site.css")
    with (own / "web" / "site.css").open("a", encoding="utf-8") as css:
        css.write("\n/* newsroom colours */\n")
    env = {"PUBLISHER_TEMPLATES__DIR": str(own), "PUBLISHER_SECRET_KEY": "k" * 48}
    publisher = make_publisher(load_settings(project, environ=env), create=True)
    try:
        with TestClient(create_app(publisher)) as client:
            assert "/* newsroom colours */" in client.get("/static/site.css").text
            assert client.get("/").status_code == 200  # pages fall back to the built-in ones
    finally:
        publisher.close()
