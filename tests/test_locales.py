"""Every page in every shipped language, with no string left in English.

Two checks, because either alone misses something:

* The catalogs: extracting the marked strings from the sources now (Babel, as
  ``scripts/catalogs`` does) finds nothing the catalogs lack; every entry is translated and
  not fuzzy; the compiled ``.mo`` files are those of the ``.po`` files.
* The pages: each public page is rendered with ``PUBLISHER_SITE__LANGUAGE`` set to each
  language (content in that language too: title, description, article, category). For
  Urdu and Arabic, whose script is not Latin, any Latin word left in the visible text is a
  string nobody marked for translation; only format names (RSS, Atom, JSON Feed), e-mail
  addresses and URLs may stay. For French, no English source text of the catalog may show.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from lxml import etree
from webkit import API_TOKEN, TestClient, csrf_token, make_settings

from publisher.core import LANGUAGES, Publisher, Purpose, make_publisher
from publisher.web import create_app

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "publisher" / "locale"
READER = "reader@example.org"
ALLOWED_LATIN = {"RSS", "Atom", "JSON", "Feed"}
RTL = {"ur", "ar"}
CONTENT = {  # the newsroom's own words in each language (the test's data, not the product's)
    "en": ("The Riverton Ledger", "News from the river towns.", "Bridge opens", "Local"),
    "fr": ("Le Courrier", "Nouvelles de la vallée.", "Le pont ouvre", "Région"),
    "ur": ("روزنامہ کراچی", "شہر کی خبریں۔", "پل کھل گیا", "مقامی"),
    "ar": ("صحيفة الخليج", "أخبار المدينة.", "افتتاح الجسر", "محلي"),
}


def test_the_catalogs_hold_every_marked_string_translated(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        [str(pybabel), "extract", "-F", "babel.cfg", "-k", "N_", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with pot.open("rb") as f:
        marked = {m.id for m in read_po(f) if m.id}
    assert len(marked) > 50
    for language in LANGUAGES:
        po = LOCALE / language / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as f:
            catalog = read_po(f)
        entries = {m.id: m for m in catalog if m.id}
        assert not marked - set(entries), f"{language}: missing {sorted(marked - set(entries))}"
        for message in entries.values():
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(strings) and not message.fuzzy, f"{language}: {message.id!r}"
        with (po.parent / "messages.mo").open("rb") as f:
            compiled = {plain(m.id): plain(m.string) for m in read_mo(f) if m.id}
        assert compiled == {plain(m.id): plain(m.string) for m in entries.values()}, (
            f"{language}: messages.mo is stale (run scripts/catalogs)"
        )


def plain(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def visible_text(html: str) -> str:
    """The text a reader sees (the XSLT is XML: its <title> holds an element, not text)."""
    xml = html.startswith("<?xml")
    tree = etree.fromstring(html.encode()) if xml else etree.HTML(html.encode())
    # Dropped: code (URLs, zone names) and options naming a language in itself (lang=).
    dropped = "//script|//style|//code|//head|//*[local-name()='head']|//option[@lang]"
    for element in tree.xpath(dropped):
        element.getparent().remove(element)
    return " ".join(tree.itertext())


def latin_words(text: str) -> set[str]:
    text = re.sub(r"\S+@\S+|https?://\S+", " ", text)
    return set(re.findall(r"[A-Za-z][A-Za-z'-]+", text)) - ALLOWED_LATIN


@pytest.fixture(params=LANGUAGES)
def site(
    request: pytest.FixtureRequest, project: Path
) -> Iterator[tuple[str, TestClient, Publisher]]:
    language = str(request.param)
    title, description, headline, category = CONTENT[language]
    env = {
        "PUBLISHER_SITE__LANGUAGE": language,
        "PUBLISHER_SITE__TITLE": title,
        "PUBLISHER_SITE__DESCRIPTION": description,
    }
    settings = make_settings(project, f"sqlite:///{project / 'var' / 'lang.db'}", **env)
    publisher = make_publisher(settings, create=True)
    with TestClient(create_app(publisher)) as client:
        response = client.post(
            "/api/articles",
            json={
                "title": headline,
                "content_html": f"<p>{headline}.</p>",
                "categories": [category],
            },
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )
        assert response.status_code == 201, response.text
        yield language, client, publisher
    publisher.close()


def pages(client: TestClient, publisher: Publisher, project: Path) -> dict[str, str]:
    """Every public page as a reader gets it, from the home page to the reader's own pages."""
    token = csrf_token(client.get("/").text)
    subscribed = client.post("/subscribe", data={"csrf_token": token, "email": READER})
    client.app.state.jobs.join()  # the subscription is made off the request path
    found = {"subscribed": subscribed.text}
    article = publisher.articles(limit=1)[0]
    category = publisher.categories()[0]
    for name, path in {
        "home": "/",
        "article": f"/articles/{article.slug}",
        "category": f"/categories/{category.slug}",
        "archive": "/archive",
        "feeds": "/feeds/",
        "feed stylesheet (XSLT)": "/feeds/feed.xsl",
        "unsubscribe": "/unsubscribe",
        "preferences (ask)": "/preferences",
        "not found": "/articles/no-such-article",
        "bad link": "/confirm/not-a-token",
    }.items():
        found[name] = client.get(path).text
    reader = next(iter(publisher.subscribers()))
    for name, purpose in (
        ("confirm", Purpose.CONFIRM),
        ("preferences", Purpose.PREFERENCES),
        ("unsubscribe (signed)", Purpose.UNSUBSCRIBE),
    ):
        found[name] = client.get(publisher.signed_path(purpose, reader)).text
    return found


def english_sources() -> set[str]:
    """The catalog's English texts, as they would show (markup and placeholders cut out)."""
    with (LOCALE / "en" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    found = set()
    for message in catalog:
        for text in message.id if isinstance(message.id, tuple) else (message.id,):
            for part in re.split(r"<[^>]+>|%\(\w+\)s", text):
                if len(part.strip()) > 12:
                    found.add(part.strip())
    return found


def test_every_page_speaks_the_site_language(
    site: tuple[str, TestClient, Publisher], project: Path
) -> None:
    language, client, publisher = site
    problems = []
    sources = english_sources()
    for name, html in pages(client, publisher, project).items():
        assert f'<html lang="{language}" dir="{"rtl" if language in RTL else "ltr"}">' in html
        text = visible_text(html)
        if language in RTL:
            if left := latin_words(text):
                problems.append(f"{language} {name}: untranslated {sorted(left)}")
        elif language != "en" and (left := {s for s in sources if s in text}):
            problems.append(f"{language} {name}: untranslated {sorted(left)}")
    assert not problems, "\n".join(problems)


def test_dates_and_counts_follow_the_language(project: Path) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from publisher.core import long_date, number

    moment = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    karachi = ZoneInfo("Asia/Karachi")
    assert long_date(moment, "en", karachi) == "20 November 2026"
    assert long_date(moment, "fr", karachi) == "20 novembre 2026"
    assert "نومبر" in long_date(moment, "ur", karachi)
    assert "نوفمبر" in long_date(moment, "ar", karachi)
    assert number(12345, "fr") == "12\u202f345"
    assert number(12345, "en") == "12,345"


# --- the feeds' own strings ------------------------------------------------------------------

# Elements whose text is a URL, an id, a date or a language code, not words.
FEED_NOT_WORDS = {"link", "id", "guid", "updated", "lastBuildDate", "pubDate", "docs", "language"}
FEED_NOT_WORDS_JSON = {"version", "home_page_url", "feed_url", "language", "items"}


def feed_strings(data: bytes) -> tuple[list[str], str]:
    """The strings a feed document carries that are not article data (items and entries
    are left out), and the language it declares (RSS ``<language>``, Atom ``xml:lang``,
    JSON Feed ``language``)."""
    if data.lstrip().startswith(b"{"):
        feed = json.loads(data)
        found: list[str] = []

        def walk(value: object) -> None:
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk({k: v for k, v in feed.items() if k not in FEED_NOT_WORDS_JSON})
        return found, str(feed.get("language", ""))
    tree = etree.fromstring(data)
    language = tree.get("{http://www.w3.org/XML/1998/namespace}lang") or tree.findtext(
        "channel/language", ""
    )
    texts = []
    for element in tree.iter(tag=etree.Element):
        name = etree.QName(element).localname
        inside = {etree.QName(e).localname for e in element.iterancestors()} | {name}
        if inside & {"item", "entry"} or name in FEED_NOT_WORDS:
            continue
        if element.text and element.text.strip():
            texts.append(element.text.strip())
    return texts, language


def feed_documents(language: str, content: str, project: Path) -> dict[str, bytes]:
    """Every feed file of a site in ``language`` whose own texts are ``content``'s, over
    HTTP: site and category feeds in each format, and the monthly archive pages (one
    article per feed, so the older of two goes to an archive page)."""
    title, description, headline, category = CONTENT[content]
    env = {
        "PUBLISHER_SITE__LANGUAGE": language,
        "PUBLISHER_SITE__TITLE": title,
        "PUBLISHER_SITE__DESCRIPTION": description,
        "PUBLISHER_FEEDS__ITEMS": "1",
    }
    database = f"sqlite:///{project / 'var' / f'feeds-{language}.db'}"
    publisher = make_publisher(make_settings(project, database, **env), create=True)
    try:
        with TestClient(create_app(publisher)) as client:
            for n, date in enumerate(("2026-09-15T08:00:00Z", "2026-10-15T08:00:00Z")):
                article = {
                    "title": f"{headline} {n}",
                    "content_html": f"<p>{headline}.</p>",
                    "categories": [category],
                    "date": date,
                }
                headers = {"Authorization": f"Bearer {API_TOKEN}"}
                response = client.post("/api/articles", json=article, headers=headers)
                assert response.status_code == 201, response.text
            folder = publisher.feeds.out_dir
            paths = sorted(
                p.relative_to(folder).as_posix()
                for p in folder.rglob("*")
                if p.is_file() and p.suffix in (".xml", ".json")
            )
            found = {path: client.get(f"/feeds/{path}").content for path in paths}
    finally:
        publisher.close()
    assert any(p.startswith("category/") for p in found), sorted(found)
    assert any(p.startswith("archive/category/") for p in found), sorted(found)
    assert len(found) == 10, sorted(found)  # 2 x (3 live + 2 archive)
    return found


def untranslated_feed_strings(language: str, documents: dict[str, bytes]) -> list[str]:
    """Problems: a declared language other than ``language``, or a fixed string in English
    (a Latin word in Urdu or Arabic; an English source text in French)."""
    problems = []
    sources = english_sources()
    for path, data in documents.items():
        strings, declared = feed_strings(data)
        if declared != language:
            problems.append(f"{path}: declares language {declared!r}, not {language!r}")
        text = " ".join(strings)
        if language in RTL:
            left: set[str] = latin_words(text)
        else:
            left = {s for s in sources if s in text}
        if left:
            problems.append(f"{language} {path}: untranslated {sorted(left)}")
    return problems


@pytest.mark.parametrize("language", ["ur", "ar", "fr"])
def test_the_feeds_own_strings_speak_the_site_language(language: str, project: Path) -> None:
    documents = feed_documents(language, language, project)
    assert untranslated_feed_strings(language, documents) == []
    if language in RTL:  # the words are there, in the language: titles of category feeds
        titles = [feed_strings(d)[0][0] for p, d in documents.items() if "category/" in p]
        assert all(CONTENT[language][3] in t and CONTENT[language][0] in t for t in titles)


def test_a_feed_with_an_english_fixed_string_fails_the_check(project: Path) -> None:
    """The check is not empty: feeds made by the English catalog around Urdu content (the
    site's title, description and categories) are caught, by the words the feeds add."""
    documents = feed_documents("en", "ur", project)
    problems = "\n".join(untranslated_feed_strings("ur", documents))
    for word in ("latest", "archive", "publisher"):
        assert word in problems, problems
    assert "declares language 'en', not 'ur'" in problems
