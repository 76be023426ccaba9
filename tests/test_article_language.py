"""Articles carry a language, read from each source format and shown by ``articles show``.

Through the CLI on a fresh project: Markdown front matter (``language`` or ``lang``), JSON
(``language``), an HTML page (``<html lang>``, else ``og:locale``, else JSON-LD
``inLanguage``), and ``articles add --language`` for a source that names none. A tag that is
not a language code is one clear line naming the file and field, and nothing is stored; the
JSON Feed item says the article's own language.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from publisher.cli import main


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--root", str(project), *args])


@pytest.fixture
def initialised(project: Path) -> Path:
    assert run(project, "init").exit_code == 0
    return project


def language_of(project: Path, slug: str) -> str:
    shown = run(project, "articles", "show", slug, "--json")
    assert shown.exit_code == 0, shown.output
    plain = run(project, "articles", "show", slug)
    data = json.loads(shown.output)
    assert f"language: {data['language']}" in plain.output
    return str(data["language"])


PAGE = """<!DOCTYPE html><html{attr}><head><title>{title}</title>{head}</head>
<body><article><h1>{title}</h1><p>{title}, a story long enough to be a story.</p></article>
</body></html>"""


def test_each_source_format_gives_the_articles_language(initialised: Path) -> None:
    root = initialised
    sources = {
        "front.md": "---\ntitle: Front matter story\nlanguage: ur\n---\nBody.\n",
        "short.md": "---\ntitle: Lang key story\nlang: ar\n---\nBody.\n",
        "item.json": json.dumps(
            {"title": "JSON story", "content_html": "<p>x</p>", "language": "fr"}
        ),
        "html-lang.html": PAGE.format(attr=' lang="ur-PK"', title="Html lang story", head=""),
        "locale.html": PAGE.format(
            attr="", title="Locale story", head='<meta property="og:locale" content="en_GB">'
        ),
        "ld.html": PAGE.format(
            attr="",
            title="Ld story",
            head='<script type="application/ld+json">'
            '{"@type": "NewsArticle", "inLanguage": "ar"}</script>',
        ),
        "plain.md": "---\ntitle: No language story\n---\nBody.\n",
    }
    for name, text in sources.items():
        (root / name).write_text(text, encoding="utf-8")
    added = run(root, "articles", "add", *(str(root / n) for n in sources))
    assert added.exit_code == 0, added.output
    assert language_of(root, "front-matter-story") == "ur"
    assert language_of(root, "lang-key-story") == "ar"
    assert language_of(root, "json-story") == "fr"
    assert language_of(root, "html-lang-story") == "ur-PK"
    assert language_of(root, "locale-story") == "en-GB"
    assert language_of(root, "ld-story") == "ar"
    assert language_of(root, "no-language-story") == ""  # the site's

    (root / "later.md").write_text("---\ntitle: Given on the command line\n---\nB.\n")
    given = run(root, "articles", "add", "--language", "ur", str(root / "later.md"))
    assert given.exit_code == 0, given.output
    assert language_of(root, "given-on-the-command-line") == "ur"

    feed = json.loads((root / "feeds" / "feed.json").read_text(encoding="utf-8"))
    by_title = {item["title"]: item["language"] for item in feed["items"]}
    assert by_title["Front matter story"] == "ur"
    assert by_title["No language story"] == feed["language"]  # the feed's own


def test_a_bad_language_is_one_line_naming_the_file_and_field(initialised: Path) -> None:
    root = initialised
    bad = root / "bad.md"
    bad.write_text("---\ntitle: Bad language\nlanguage: not a language!\n---\nBody.\n")
    result = run(root, "articles", "add", str(bad))
    assert result.exit_code != 0
    assert "bad.md" in result.output and "language" in result.output
    assert run(root, "articles", "show", "bad-language").exit_code != 0  # nothing stored
    option = run(root, "articles", "add", "--language", "no such", str(bad))
    assert option.exit_code != 0 and "language" in option.output
