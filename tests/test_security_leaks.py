"""Small leaks: CSV formulas in any column, old confirmation links after an unsubscribe.

* A CSV export opened in a spreadsheet must not run a cell as a formula, whichever column it
  is in: an address may legally start with ``=`` or ``+``. The guard (a leading quote) is
  taken off again on import, so export and import still round-trip.
* A confirmation link stops working once the subscriber has unsubscribed, also after a
  later re-subscribe (which mails a new link): the old link belongs to the old consent.
"""

from __future__ import annotations

import csv
import io
import re
from email import message_from_bytes, policy
from pathlib import Path

from click.testing import CliRunner
from webkit import TestClient, confirm_link, make_settings, seed_articles

from publisher.cli import main
from publisher.core import make_publisher
from publisher.delivery import MemoryTransport
from publisher.web import create_app
from publisher.web.security import CSRF_FIELD

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = [("=cmd@example.org", "+SUM(A1)"), ("+1@example.org", "@x"), ("-a@example.org", "")]


def _cli(project: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--root", str(project), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_export_guards_formulas_in_every_column_and_round_trips(tmp_path: Path) -> None:
    projects = []
    for name in ("one", "two"):
        project = tmp_path / name
        (project / "config").mkdir(parents=True)
        (project / ".env").write_text("PUBLISHER_SECRET_KEY=k-0123456789abcdef\n")
        _cli(project, "init")
        projects.append(project)
    for email, person in HOSTILE:
        _cli(projects[0], "subscribers", "add", "--name", person, "--confirmed", "--", email)
    exported = _cli(projects[0], "subscribers", "export")
    rows = list(csv.reader(io.StringIO(exported)))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells and not [c for c in cells if c.startswith(FORMULA_START)]
    assert {row[0] for row in rows[1:]} == {"'" + email for email, _ in HOSTILE}
    (tmp_path / "export.csv").write_text(exported, encoding="utf-8")
    _cli(projects[1], "subscribers", "import", str(tmp_path / "export.csv"), "--confirmed")
    again = list(csv.reader(io.StringIO(_cli(projects[1], "subscribers", "export"))))
    assert sorted(r[:2] for r in again[1:]) == sorted(r[:2] for r in rows[1:])
    listed = _cli(projects[1], "subscribers", "list")
    for email, _person in HOSTILE:
        assert email in listed


_PREFERENCES = re.compile(r'href="(/preferences/[^"]+)"')
_UNSUBSCRIBE = re.compile(r'"(/unsubscribe/[^"]+)"')


def test_an_old_confirmation_link_stays_dead_after_unsubscribe_and_resubscribe(
    project: Path,
) -> None:
    settings = make_settings(project, f"sqlite:///{project / 'var' / 'leaks.db'}")
    transport = MemoryTransport()
    publisher = make_publisher(settings, transport=transport, create=True)
    seed_articles(publisher)

    def last_link() -> str:
        message = message_from_bytes(transport.sent[-1].data, policy=policy.default)
        url = confirm_link(message)  # type: ignore[arg-type]
        return "/" + url.split("://", 1)[1].split("/", 1)[1]

    try:
        with TestClient(create_app(publisher)) as client:
            assert client.post("/subscribe", json={"email": "ann@example.org"}).status_code == 202
            first = last_link()
            page = client.get(first)
            token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
            assert token
            confirmed = client.post(first, data={CSRF_FIELD: token.group(1)})
            assert confirmed.status_code == 200
            preferences = _PREFERENCES.search(confirmed.text)
            assert preferences
            unsubscribe = _UNSUBSCRIBE.search(client.get(preferences.group(1)).text)
            assert unsubscribe
            gone = client.post(unsubscribe.group(1), data={"List-Unsubscribe": "One-Click"})
            assert gone.status_code == 200
            assert client.post("/subscribe", json={"email": "ann@example.org"}).status_code == 202
            second = last_link()
            assert second != first
            for link, wanted in ((first, 400), (second, 200)):
                page = client.get(link)
                token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
                csrf = token.group(1) if token else ""
                answer = client.post(link, data={CSRF_FIELD: csrf})
                assert answer.status_code == wanted, (link, answer.text[:300])
    finally:
        publisher.close()
