"""Every mail a reader receives, in every shipped language, with no string left in English.

The mails are reached through the product, as a reader meets them: the confirmation after
subscribing on the site (HTTP, choosing a language on the form), the settings link asked
for on the preferences page, and the digest sent by ``send_digest`` into a
:class:`~publisher.delivery.MemoryTransport` (its ledger row carries the reader's
language). The site itself speaks English, so every non-English word comes from the
reader's own choice. For Urdu and Arabic any Latin word left in the subject, the text part
or the visible HTML, other than data (the reader's address, URLs, the newsroom's names), is
a string nobody translated; for French, no English source text of the catalog may show
(the approach of tests/test_locales.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from digest_support import parse, parts
from test_locales import CONTENT, RTL, english_sources, latin_words, visible_text
from webkit import API_TOKEN, KEY, TestClient, csrf_token, make_settings

from publisher.cli import main
from publisher.core import LANGUAGES, Purpose, make_publisher
from publisher.delivery import MemoryTransport
from publisher.i18n import translations
from publisher.text import category_slug
from publisher.types import ArticleInput, Category, Frequency
from publisher.web import create_app

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
READER = "reader@example.org"
FSI, PDI = "\u2068", "\u2069"


def mail_words(message: EmailMessage) -> tuple[str, str, str]:
    """(subject, text part, visible HTML text) of a mail as a reader's client decodes it."""
    text, html = parts(message.as_bytes())
    return str(message["Subject"]), text, visible_text(html)


class Site:
    """An English-speaking site whose reader chose ``language``; mails kept in memory."""

    def __init__(self, project: Path, language: str) -> None:
        self.language = language
        _, _, headline, category = CONTENT[language]
        self.environ = {
            "PUBLISHER_SECRET_KEY": KEY,
            "PUBLISHER_DATABASE__URL": f"sqlite:///{project / 'var' / 'mail.db'}",
            "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
            "PUBLISHER_SITE__LANGUAGE": "en",
            "PUBLISHER_SITE__TITLE": CONTENT[language][0],
        }
        settings = make_settings(project, self.environ["PUBLISHER_DATABASE__URL"], **self.environ)
        self.postal_address = settings.site.postal_address
        self.transport = MemoryTransport()
        self.publisher = make_publisher(
            settings, transport=self.transport, clock=lambda: NOW, create=True
        )
        self.headline, self.category = headline, category

    def mails(self) -> list[EmailMessage]:
        return [parse(m.data) for m in self.transport.sent]


@pytest.fixture(params=LANGUAGES)
def reader_site(
    request: pytest.FixtureRequest, project: Path
) -> Iterator[tuple[Site, dict[str, EmailMessage]]]:
    """A reader who chose the language subscribes, confirms, asks for their settings link
    and receives a digest: each mail, by name."""
    site = Site(project, str(request.param))
    publisher = site.publisher
    found: dict[str, EmailMessage] = {}
    with TestClient(create_app(publisher)) as client:
        for hours, headline in ((2, site.headline), (1, "Cup final tonight")):
            response = client.post(
                "/api/articles",
                json={
                    "title": headline,
                    "content_html": f"<p>{headline}.</p>",
                    "categories": [site.category],
                    "date": (NOW - timedelta(hours=hours)).isoformat(),
                    "language": site.language if headline == site.headline else "en",
                },
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            )
            assert response.status_code == 201, response.text
        token = csrf_token(client.get("/").text)
        form = {"csrf_token": token, "email": READER, "name": "Ann", "language": site.language}
        assert client.post("/subscribe", data=form).status_code == 200
        client.app.state.jobs.join()
        (found["confirmation"],) = site.mails()
        reader = next(iter(publisher.subscribers()))
        assert reader.language == site.language
        confirm = publisher.signed_path(Purpose.CONFIRM, reader)
        token = csrf_token(client.get(confirm).text)  # GET shows a button; POST confirms
        assert client.post(confirm, data={"csrf_token": token}).status_code == 200
        token = csrf_token(client.get("/preferences").text)
        client.post("/preferences", data={"csrf_token": token, "email": READER})
        client.app.state.jobs.join()
        found["settings link"] = site.mails()[-1]
    report = publisher.send_digest(Frequency.DAILY, NOW)
    assert report.edition_key
    found["digest"] = site.mails()[-1]
    assert len(site.mails()) == 3
    yield site, found
    publisher.close()


def data_words(site: Site) -> set[str]:
    """Latin words that are the newsroom's or the reader's data, not the product's."""
    names = f"{CONTENT[site.language][0]} {site.postal_address} Cup final tonight Ann {READER}"
    return latin_words(names)


def untranslated(site: Site, name: str, texts: dict[str, str]) -> list[str]:
    """What each of ``texts`` (subject, text part, visible HTML) still says in English."""
    language, sources, problems = site.language, english_sources(), []
    for where, text in texts.items():
        if language in RTL:
            if left := latin_words(text) - data_words(site):
                problems.append(f"{language} {name} {where}: untranslated {sorted(left)}")
        elif language != "en" and (left := {s for s in sources if s in text}):
            problems.append(f"{language} {name} {where}: untranslated {sorted(left)}")
    return problems


def test_every_mail_speaks_the_readers_language(
    reader_site: tuple[Site, dict[str, EmailMessage]],
) -> None:
    site, mails = reader_site
    language = site.language
    direction = "rtl" if language in RTL else "ltr"
    problems = []
    for name, message in mails.items():
        _, html = parts(message.as_bytes())
        assert f'<html lang="{language}" dir="{direction}">' in html, name
        assert f'<body class="body" bgcolor="#eef0f3" dir="{direction}" lang="{language}"' in html
        assert message.get_content_type() == "multipart/alternative", name
        words = dict(zip(("subject", "text", "html"), mail_words(message), strict=True))
        problems += untranslated(site, name, words)
    assert not problems, "\n".join(problems)


def test_the_weekly_preview_speaks_the_language_asked_for(
    reader_site: tuple[Site, dict[str, EmailMessage]],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``digest preview --language`` on the command line: the weekly digest's own words."""
    site, _ = reader_site
    for name, value in site.environ.items():
        monkeypatch.setenv(name, value)
    fresh = ArticleInput(  # the command runs on the real clock: a story of this week
        title=site.headline,
        content_html=f"<p>{site.headline}.</p>",
        published_at=datetime.now(UTC) - timedelta(hours=1),
        categories=(Category(category_slug(site.category), site.category),),
        language=site.language,
        slug="this-week",
    )
    site.publisher.store_article(fresh)
    out = project / "preview"
    command = ["--root", str(project), "digest", "preview", "--frequency", "weekly"]
    result = CliRunner().invoke(main, [*command, "--language", site.language, "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "digest.html").read_text(encoding="utf-8")
    assert f'<html lang="{site.language}"' in html
    text = (out / "digest.txt").read_text(encoding="utf-8")
    subject = str(parse((out / "digest.eml").read_bytes())["Subject"])
    words = {"subject": subject, "text": text, "html": visible_text(html)}
    assert not untranslated(site, "weekly preview", words)
    if site.language != "en":
        assert translations(site.language).gettext("Weekly digest") in text


def test_the_readers_language_comes_first_in_the_digest(
    reader_site: tuple[Site, dict[str, EmailMessage]],
) -> None:
    """Two articles: the one in the reader's language leads, although it is older."""
    site, mails = reader_site
    text, _ = parts(mails["digest"].as_bytes())
    mine, english = text.find(site.headline), text.find("Cup final tonight")
    assert mine != -1 and english != -1
    if site.language == "en":
        assert english < mine  # the other one is the English article here
    else:
        heading = translations(site.language).gettext("In other languages")
        assert mine < text.find(heading) < english


def test_names_in_another_script_are_isolated_in_right_to_left_mail(
    reader_site: tuple[Site, dict[str, EmailMessage]],
) -> None:
    """A Latin headline or name inside Urdu or Arabic text keeps its place (FSI ... PDI in
    text, dir="auto" in HTML); in a left-to-right mail Latin text needs no isolate."""
    site, mails = reader_site
    text, html = parts(mails["digest"].as_bytes())
    greeting = parts(mails["confirmation"].as_bytes())[0].splitlines()[0]
    if site.language in RTL:
        assert f"{FSI}Cup final tonight{PDI}" in text
        assert f"{FSI}Ann{PDI}" in greeting
        assert re.search(r'<span dir="auto"[^>]*>Ann</span>', html)
        # Layout cells mirrored; only the English story's own paragraphs align left.
        assert 'align="right"' in html and not re.search(r'<td[^>]*align="left"', html)
        assert re.search(r'<p class="title" dir="ltr" lang="en" align="left"', html)
    else:
        assert FSI not in greeting and "Cup final tonight" in text
        assert 'align="left"' in html
