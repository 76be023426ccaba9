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
