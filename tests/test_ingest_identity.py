"""Which article a source updates: its path, never its title (docs/ingest.md, "Identity").

Each case goes through the command line an editor uses (``articles import`` / ``add``) and
reads the result back with ``articles list --json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from publisher.cli import main
from publisher.store import open_store
from publisher.types import ArticleInput


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--root", str(project), *args])


def story(title: str, body: str = "The council met on Tuesday.", extra: str = "") -> str:
    return f"---\ntitle: {title}\ndate: 2026-11-20T08:30:00+00:00\n{extra}---\n\n{body}\n"


def listed(project: Path) -> list[dict[str, object]]:
    result = run(project, "articles", "list", "--json", "--all", "--limit", "100")
    assert result.exit_code == 0, result.output
    items: list[dict[str, object]] = json.loads(result.output)
    return sorted(items, key=lambda item: str(item["slug"]))


@pytest.fixture
def tree(project: Path) -> Path:
    assert run(project, "init").exit_code == 0
    folder = project / "content"
    (folder / "news").mkdir(parents=True)
    (folder / "sport").mkdir()
    return folder


def test_two_files_with_the_same_title_are_two_articles(project: Path, tree: Path) -> None:
    (tree / "news" / "budget.md").write_text(story("Budget approved", "Council story."))
    (tree / "sport" / "budget.md").write_text(story("Budget approved", "Club story."))
    result = run(project, "articles", "import", str(tree))
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    items = listed(project)
    assert [item["slug"] for item in items] == ["budget-approved", "budget-approved-2"]
    assert {item["summary"] for item in items} == {"Council story.", "Club story."}


def test_the_same_file_again_is_unchanged_and_an_edit_updates(project: Path, tree: Path) -> None:
    source = tree / "news" / "budget.md"
    source.write_text(story("Budget approved"))
    assert "1 created" in run(project, "articles", "import", str(tree)).output
    assert "1 unchanged" in run(project, "articles", "import", str(tree)).output
    source.write_text(story("Budget approved", "Corrected: the vote was 7 to 4."))
    assert "1 updated" in run(project, "articles", "import", str(tree)).output
    [item] = listed(project)
    assert item["summary"] == "Corrected: the vote was 7 to 4."


def test_a_title_edit_updates_and_never_duplicates(project: Path, tree: Path) -> None:
    source = tree / "news" / "budget.md"
    source.write_text(story("Budget approved"))
    run(project, "articles", "import", str(tree))
    [before] = listed(project)
    source.write_text(story("Budget approved after eleven-hour session"))
    result = run(project, "articles", "import", str(tree))
    assert "1 updated" in result.output, result.output
    [after] = listed(project)
    assert after["guid"] == before["guid"]
    assert after["slug"] == "budget-approved"  # the URL readers have stays put
    assert after["title"] == "Budget approved after eleven-hour session"


def test_a_conflicting_explicit_slug_is_refused_with_a_line(project: Path, tree: Path) -> None:
    (tree / "news" / "a.md").write_text(story("First story", extra="slug: budget\n"))
    assert run(project, "articles", "import", str(tree)).exit_code == 0
    (tree / "news" / "b.md").write_text(story("Second story", extra="slug: budget\n"))
    result = run(project, "articles", "import", str(tree))
    assert result.exit_code == 1
    problem = next(line for line in result.output.splitlines() if "already belongs" in line)
    assert problem.startswith(str(tree / "news" / "b.md"))
    assert "slug 'budget' already belongs to another article (news/a.md)" in problem
    assert [item["title"] for item in listed(project)] == ["First story"]


def test_a_tree_imported_from_elsewhere_updates_the_same_articles(
    project: Path, tree: Path
) -> None:
    """The key is relative to the import root, so a moved tree is still the same stories."""
    (tree / "news" / "budget.md").write_text(story("Budget approved"))
    run(project, "articles", "import", str(tree))
    moved = project / "moved"
    tree.rename(moved)
    result = run(project, "articles", "import", str(moved))
    assert "1 unchanged" in result.output, result.output


@pytest.fixture
def inside(tree: Path) -> Iterator[Path]:
    before = Path.cwd()
    os.chdir(tree)
    try:
        yield tree
    finally:
        os.chdir(before)


def test_add_counts_from_the_current_folder_or_base(project: Path, inside: Path) -> None:
    (inside / "news" / "budget.md").write_text(story("Budget approved"))
    assert "1 created" in run(project, "articles", "add", "news/budget.md").output
    again = run(project, "articles", "import", str(inside))
    assert "1 unchanged" in again.output, again.output
    os.chdir(inside / "news")
    elsewhere = run(project, "articles", "add", "budget.md", "--base", "..")
    assert "1 unchanged" in elsewhere.output, elsewhere.output
    assert len(listed(project)) == 1


def test_items_of_a_json_list_with_one_title_stay_apart(project: Path, tree: Path) -> None:
    items = [
        {"title": "Weather warning", "content": "<p>North.</p>", "date": "2026-11-20"},
        {"title": "Weather warning", "content": "<p>South.</p>", "date": "2026-11-20"},
    ]
    (tree / "batch.json").write_text(json.dumps(items))
    assert "2 created" in run(project, "articles", "import", str(tree)).output
    assert "2 unchanged" in run(project, "articles", "import", str(tree)).output
    assert [item["summary"] for item in listed(project)] == ["North.", "South."]


def test_an_article_stored_before_sources_were_kept_is_adopted(tmp_path: Path) -> None:
    """Rows from before the source column carry only the path as given: the first import
    of the same file (same slug, path ending in its key) updates them instead of adding."""
    store = open_store(
        f"sqlite:///{tmp_path / 'p.db'}", site_url="https://news.example.org", create=True
    )
    when = datetime(2026, 11, 20, tzinfo=UTC)
    old = ArticleInput("Budget approved", "<p>a</p>", when, source="content/news/budget.md")
    first = store.articles.upsert(old).article
    same = ArticleInput(
        "Budget approved", "<p>b</p>", when, source="x", source_key="news/budget.md"
    )
    assert store.articles.upsert(same).article.id == first.id
    other = ArticleInput("Budget approved", "<p>c</p>", when, source_key="sport/budget.md")
    assert store.articles.upsert(other).article.slug == "budget-approved-2"
    store.close()


def test_a_refused_article_inside_one_import_costs_only_itself(project: Path, tree: Path) -> None:
    """Each article of an import is stored in its own savepoint, and category ids are
    remembered across the import: the refused one in the middle takes nothing with it,
    and the stories before and after it keep their categories."""
    (tree / "news" / "a.md").write_text(
        story("First story", extra="slug: budget\ncategories: [Local]\n")
    )
    (tree / "news" / "b.md").write_text(
        story("Second story", extra="slug: budget\ncategories: [Sport, Local]\n")
    )
    (tree / "news" / "c.md").write_text(story("Third story", extra="categories: [Sport, Local]\n"))
    result = run(project, "articles", "import", str(tree))
    assert result.exit_code == 1
    assert "slug 'budget' already belongs to another article (news/a.md)" in result.output
    stored = {item["title"]: item for item in listed(project)}
    assert sorted(stored) == ["First story", "Third story"]
    slugs = {title: [c["slug"] for c in item["categories"]] for title, item in stored.items()}
    assert slugs == {"First story": ["local"], "Third story": ["sport", "local"]}
