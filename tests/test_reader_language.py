"""A reader chooses their language (and the browser reports their time zone) when
subscribing, and changes both in preferences; their own pages then speak their language.

Through HTTP only (TestClient on the web app), on a real SQLite file; the signed links are
the ones the product makes for its mails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from conftest import PublisherFactory
from webkit import TestClient, csrf_token, make_settings

from publisher.core import LANGUAGES, Publisher, Purpose
from publisher.web import create_app

READER = "reader@example.org"


@pytest.fixture
def publisher(project: Path, make_pub: PublisherFactory) -> Publisher:
    return make_pub(make_settings(project, f"sqlite:///{project / 'var' / 'reader.db'}"))


@pytest.fixture
def client(publisher: Publisher) -> Iterator[TestClient]:
    with TestClient(create_app(publisher)) as test_client:
        yield test_client


def _subscribe(client: TestClient, **fields: str) -> int:
    home = client.get("/")
    assert 'name="timezone"' in home.text and '<select id="language"' in home.text
    form = {"csrf_token": csrf_token(home.text), "email": READER, **fields}
    status = client.post("/subscribe", data=form).status_code
    client.app.state.jobs.join()  # the subscription is made off the request path
    return status


def test_language_and_time_zone_from_the_subscribe_form(
    client: TestClient, publisher: Publisher
) -> None:
    assert _subscribe(client, language="ur", timezone="Asia/Karachi") == 200
    reader = next(iter(publisher.subscribers()))
    assert (reader.language, reader.timezone) == ("ur", "Asia/Karachi")
    page = client.get(publisher.signed_path(Purpose.CONFIRM, reader)).text
    assert '<html lang="ur" dir="rtl">' in page and "میری رکنیت کی تصدیق کریں" in page
    # The cached public pages keep the site's language after a reader's page in another.
    for public in ("/", "/archive"):
        assert '<html lang="en" dir="ltr">' in client.get(public).text, public


def test_preferences_change_language_and_time_zone(
    client: TestClient, publisher: Publisher
) -> None:
    assert _subscribe(client) == 200  # no script ran: the hidden zone field stayed empty
    reader = next(iter(publisher.subscribers()))
    assert (reader.language, reader.timezone) == ("", "")  # the site's, resolved later
    path = publisher.signed_path(Purpose.PREFERENCES, reader)
    page = client.get(path).text
    assert '<html lang="en" dir="ltr">' in page
    form = {
        "csrf_token": csrf_token(page),
        "frequency": "daily",
        "language": "ar",
        "timezone": "America/St_Johns",
    }
    assert client.post(path, data=form, follow_redirects=False).status_code == 303
    changed = client.get(path + "?saved=1").text
    assert '<html lang="ar" dir="rtl">' in changed and "حُفظت تفضيلاتك." in changed
    assert 'value="America/St_Johns"' in changed
    reader = next(iter(publisher.subscribers()))
    assert (reader.language, reader.timezone) == ("ar", "America/St_Johns")


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [("language", "xx", "language must be one of"), ("timezone", "Mars/Base", "time zone")],
)
def test_an_unknown_language_or_zone_is_refused_with_one_line(
    client: TestClient, publisher: Publisher, field: str, value: str, says: str
) -> None:
    home = client.get("/")
    form = {"csrf_token": csrf_token(home.text), "email": READER, field: value}
    answer = client.post("/subscribe", data=form)
    assert answer.status_code == 400 and says in answer.text
    assert list(publisher.subscribers()) == []


def test_csv_import_sets_language_and_time_zone_and_export_carries_them(
    project: Path, database_url: str
) -> None:
    """On SQLite and PostgreSQL (the bulk insert differs); a bad zone rejects its row only."""
    from click.testing import CliRunner
    from webkit import KEY

    from publisher.cli import main
    from publisher.core import make_publisher

    (project / ".env").write_text(
        f"PUBLISHER_SECRET_KEY={KEY}\nPUBLISHER_DATABASE__URL={database_url}\n", encoding="utf-8"
    )
    make_publisher(make_settings(project, database_url), create=True).close()
    source = project / "readers.csv"
    source.write_text(
        "email,language,timezone\n"
        "a@example.org,ur,Asia/Karachi\n"
        "b@example.org,,Pacific/Kiritimati\n"
        "c@example.org,en,Mars/Base\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    imported = runner.invoke(
        main, ["--root", str(project), "subscribers", "import", str(source), "--confirmed"]
    )
    assert imported.exit_code == 1  # one row rejected
    assert f"{source}:4: rejected: time zone 'Mars/Base'" in imported.output
    exported = runner.invoke(main, ["--root", str(project), "subscribers", "export"])
    assert exported.exit_code == 0, exported.output
    lines = exported.output.splitlines()
    assert lines[0].endswith(",language,timezone")
    assert any(
        line.startswith("a@example.org,") and line.endswith(",ur,Asia/Karachi") for line in lines
    )
    assert any(
        line.startswith("b@example.org,") and line.endswith(",,Pacific/Kiritimati")
        for line in lines
    )
    # Imported again with another zone: the row is updated, not duplicated.
    source.write_text("email,timezone\na@example.org,Europe/London\n", encoding="utf-8")
    again = runner.invoke(main, ["--root", str(project), "subscribers", "import", str(source)])
    assert again.exit_code == 0 and "1 updated" in again.output, again.output


ALERT = re.compile(r'<p class="error" role="alert"[^>]*>([^<]*)</p>')


def _alert(html: str) -> str:
    found = ALERT.search(html)
    assert found, html
    return unescape(found.group(1))


def _english_words(text: str, data: str = "") -> set[str]:
    """Latin words in ``text`` that are not the reader's own input ``data``."""
    return set(re.findall(r"[A-Za-z]{2,}", text)) - set(re.findall(r"[A-Za-z]{2,}", data))


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("email", "reader@", "ای میل پتا درست نہیں"),  # address checks, below the web
        ("timezone", "Mars/Base", "کوئی معلوم ٹائم زون نہیں"),  # the subscribers package
        ("language", "xx", "زبان ان میں سے ایک ہونی چاہیے"),
        ("frequency", "hourly", "تعدد روزانہ یا ہفتہ وار ہونا چاہیے"),
        ("name", "x" * 201, "نام \u2068200\u2069 حروف سے لمبا ہے"),  # the web's own check
    ],
)
def test_errors_from_below_the_web_are_shown_in_urdu(
    project: Path, make_pub: PublisherFactory, field: str, value: str, says: str
) -> None:
    """An Urdu site: a refused subscription says why in Urdu, with the reader's value kept
    as they typed it (bidi-isolated); the API still answers in English for programs."""
    settings = make_settings(
        project, f"sqlite:///{project / 'var' / 'ur.db'}", PUBLISHER_SITE__LANGUAGE="ur"
    )
    publisher = make_pub(settings)
    with TestClient(create_app(publisher)) as client:
        home = client.get("/")
        form = {"csrf_token": csrf_token(home.text), "email": READER, field: value}
        answer = client.post("/subscribe", data=form)
        assert answer.status_code == 400 and '<html lang="ur" dir="rtl">' in answer.text
        alert = _alert(answer.text)
        codes = " ".join(LANGUAGES)  # the language codes a reader may choose are data too
        assert says in alert and not _english_words(alert, f"{value} {codes}"), alert
        if field not in ("email", "name"):
            assert f"\u2068'{value}'\u2069" in alert  # the typed value, isolated
        api = client.post("/subscribe", json={"email": READER, field: value})
        assert api.status_code == 400 and api.json().get("field", field) == field
        assert re.search("[A-Za-z]{4}", api.json()["error"])  # English for programs
    assert list(publisher.subscribers()) == []


def test_preferences_errors_speak_the_readers_language(
    client: TestClient, publisher: Publisher
) -> None:
    """An English site, a reader who chose Urdu: their preferences page refuses an unknown
    zone in Urdu."""
    assert _subscribe(client, language="ur") == 200
    reader = next(iter(publisher.subscribers()))
    path = publisher.signed_path(Purpose.PREFERENCES, reader)
    page = client.get(path).text
    form = {"csrf_token": csrf_token(page), "frequency": "daily", "timezone": "Mars/Base"}
    answer = client.post(path, data=form)
    assert answer.status_code == 400 and '<html lang="ur" dir="rtl">' in answer.text
    alert = _alert(answer.text)
    assert "کوئی معلوم ٹائم زون نہیں" in alert and not _english_words(alert, "Mars/Base"), alert
    assert next(iter(publisher.subscribers())).timezone == ""
