"""``publisher articles``: add, import, list, show and retract articles."""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click

from publisher.cli.app import AppContext, echo_json, main, pass_app
from publisher.cli.tables import make_table, print_table, wide_option
from publisher.core import ARTICLE_FORMATS as FORMATS
from publisher.core import ImportChoices, IngestReport, Publisher
from publisher.exceptions import NotFound
from publisher.text import LANGUAGE_TAG, category_slug, one_line
from publisher.types import Article, Category

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Source format (default: from the file extension).",
)
strict_option = click.option("--strict", is_flag=True, help="Stop at the first bad file.")
category_option = click.option(
    "--category",
    "category_names",
    multiple=True,
    help="Category for articles whose source names none (repeatable).",
)


def _choices(fmt: str | None, strict: bool, names: tuple[str, ...]) -> ImportChoices:
    cleaned = [one_line(name) for name in names if one_line(name)]
    categories = {category_slug(n): Category(category_slug(n), n) for n in cleaned}
    return ImportChoices(fmt, strict, tuple(categories.values()))


@main.group("articles")
def articles_group() -> None:
    """Add, import, list, show and retract articles."""


json_option = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")


def _finish(report: IngestReport, as_json: bool = False) -> None:
    if as_json:
        echo_json(
            {
                "articles": [
                    {"slug": r.article.slug, "outcome": r.outcome} for r in report.results
                ],
                "warnings": [w.replace("\n", " ") for w in report.warnings],
                "errors": [str(error).replace("\n", " ") for error in report.errors],
                "summary": report.summary(),
            }
        )
    else:
        for warning in report.warnings:
            click.echo(warning.replace("\n", " "), err=True)
        for error in report.errors:
            click.echo(str(error).replace("\n", " "), err=True)
        click.echo(report.summary(), err=not report.ok)
    if not report.ok:
        sys.exit(1)


@articles_group.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option
@strict_option
@category_option
@click.option(
    "--base",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the files' identities count from (default: the current folder); give the"
    " folder you import so add and import update the same articles.",
)
@click.option(
    "--language",
    default="",
    metavar="CODE",
    help="The articles' language (ur, en-GB) where the source names none.",
)
@json_option
@pass_app
def articles_add(
    app: AppContext,
    paths: tuple[Path, ...],
    fmt: str | None,
    strict: bool,
    category_names: tuple[str, ...],
    base: Path | None,
    language: str,
    as_json: bool,
) -> None:
    """Add or update articles from files (Markdown, HTML, JSON, text), or - for stdin.

    A file without a guid is identified by its path (relative to --base): adding it again
    updates its article, whatever its title says.
    """
    sources: list[Path | tuple[str, bytes]] = []
    for path in paths:
        if str(path) == "-":
            limit = app.settings.ingest.max_file_bytes
            sources.append(("<stdin>", sys.stdin.buffer.read(limit + 1)))
        else:
            sources.append(path)
    tag = language.strip().replace("_", "-")
    if tag and not LANGUAGE_TAG.fullmatch(tag):
        raise click.BadParameter(f"not a language code such as ur or en-GB: {tag!r}")
    choices = replace(_choices(fmt, strict, category_names), root=base, language=tag)
    _finish(app.publisher().add_sources(sources, choices), as_json)


@articles_group.command("import")
@click.argument("directory", type=click.Path(path_type=Path))
@format_option
@strict_option
@category_option
@json_option
@pass_app
def articles_import(
    app: AppContext,
    directory: Path,
    fmt: str | None,
    strict: bool,
    category_names: tuple[str, ...],
    as_json: bool,
) -> None:
    """Import every article file below DIRECTORY (recursive)."""
    publisher = app.publisher()
    report = publisher.import_directory(directory, _choices(fmt, strict, category_names))
    _finish(report, as_json)


def article_dict(article: Article) -> dict[str, Any]:
    """An article as JSON-ready data (dates in UTC, ISO 8601)."""
    data = asdict(article)
    data["categories"] = [{"slug": c.slug, "name": c.name} for c in article.categories]
    data["authors"] = list(article.authors)
    return data


@articles_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--category", help="Only articles in this category (slug or name).")
@click.option("--all", "show_all", is_flag=True, help="Include scheduled and retracted ones.")
@wide_option
@pass_app
def articles_list(
    app: AppContext, as_json: bool, limit: int, category: str | None, show_all: bool, wide: bool
) -> None:
    """List articles, newest first (published ones unless --all)."""
    publisher = app.publisher()
    if category is not None:
        category = _category_slug(publisher, category)
    items = publisher.articles(limit=limit, category=category, include_unpublished=show_all)
    if as_json:
        echo_json([_listing(a) for a in items])
        return
    table = make_table(
        "id",
        "published (UTC)",
        "title",
        "categories",
        "slug",
        copyable={"categories": 0, "slug": 20},
    )
    for a in items:
        title = a.title + (" [retracted]" if a.retracted else "")
        cats = ", ".join(c.slug for c in a.categories)
        table.add_row(str(a.id), a.published_at.strftime("%Y-%m-%d %H:%M"), title, cats, a.slug)
    print_table(table, wide)


def _category_slug(publisher: Publisher, given: str) -> str:
    """The slug of a category given by slug or by name ("C++"); NotFound if there is none."""
    known = {c.slug for c in publisher.categories()}
    for slug in (given, category_slug(given)):
        if slug in known:
            return slug
    raise NotFound("category", given)


def _listing(article: Article) -> dict[str, Any]:
    data = article_dict(article)
    del data["content_html"]
    return data


@articles_group.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def articles_show(app: AppContext, key: str, as_json: bool) -> None:
    """Show one article by id, guid or slug."""
    article = app.publisher().article(key)
    if as_json:
        echo_json(article_dict(article))
        return
    for name, value in article_dict(article).items():
        if name == "categories":
            value = ", ".join(c["name"] for c in value)
        elif name == "authors":
            value = ", ".join(value)
        click.echo(f"{name:>13}: {value}")


@articles_group.command("remove")
@click.argument("key")
@pass_app
def articles_remove(app: AppContext, key: str) -> None:
    """Retract an article (by id, guid or slug): feeds drop it, the history keeps it."""
    result = app.publisher().retract_article(key)
    state = "already retracted" if result.outcome == "unchanged" else "retracted"
    click.echo(f"{state}: {result.article.slug} ({result.article.guid})")
