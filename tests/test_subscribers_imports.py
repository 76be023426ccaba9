"""Subscriber exports of other tools import as they are: ``subscribers import --confirmed``.

One sample export per tool in tests/data/subscribers/, written for this project with the
column names each tool uses. People the tool says left are skipped (never mailed); tags,
labels or lists that name one of our categories subscribe to it, the others are ignored;
the tool's opt-in time becomes the consent time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from publisher.cli import main
from publisher.store import Store
from publisher.store.subscribers import ImportItem
from publisher.types import SubscriberStatus

DATA = Path(__file__).parent / "data" / "subscribers"


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--root", str(project), *args])


@pytest.fixture
def site(project: Path, tmp_path: Path) -> Path:
    """A site publishing in Local, Sport and Politics (categories come from articles)."""
    assert run(project, "init").exit_code == 0
    for name in ("Local", "Sport", "Politics"):
        source = tmp_path / f"{name}.md"
        source.write_text(f"---\ntitle: {name} story\ncategories: [{name}]\n---\n\nText.\n")
        assert run(project, "articles", "add", str(source)).exit_code == 0
    return project


def imported(project: Path, *args: str) -> tuple[Result, dict[str, dict[str, object]]]:
    result = run(project, "subscribers", "import", "--confirmed", *args)
    listed = run(project, "subscribers", "list", "--json")
    people = {str(s["email"]): s for s in json.loads(listed.output)}
    return result, people


def test_mailchimp_audience_export(site: Path) -> None:
    result, people = imported(site, str(DATA / "mailchimp.csv"))
    assert result.exit_code == 0, result.output
    assert result.output.endswith("3 imported, 0 updated, 0 skipped, 0 rejected\n")
    amara = people["amara.osei@example.org"]
    assert amara["name"] == "Amara Osei"
    assert amara["categories"] == ["local", "sport"]
    assert amara["consent_at"] == "2024-03-02T09:16:03+00:00"  # CONFIRM_TIME beats OPTIN_TIME
    assert people["ben.carter@example.net"]["categories"] == []  # "VIP Donors" is no category
    assert people["chloe.nakamura@example.com"]["name"] == "Chloé Nakamura"


def test_mailchimp_unsubscribed_export_imports_nobody(site: Path) -> None:
    result, people = imported(site, str(DATA / "mailchimp-unsubscribed.csv"))
    assert result.exit_code == 0
    path = DATA / "mailchimp-unsubscribed.csv"
    assert result.output.splitlines() == [
        f"{path}:2: skipped: dev.patel@example.org: unsubscribed in the file's source,"
        " not imported",
        "0 imported, 0 updated, 1 skipped, 0 rejected",
    ]
    assert people == {}


def test_substack_export(site: Path) -> None:
    result, people = imported(site, str(DATA / "substack.csv"))
    assert result.exit_code == 0, result.output
    assert "old.reader@example.com: emails disabled" in result.output
    assert sorted(people) == ["lucia.ferraro@example.it", "ravi.menon@example.in"]
    assert people["ravi.menon@example.in"]["consent_at"] == "2024-02-14T08:21:40.512000+00:00"


def test_ghost_members_export(site: Path) -> None:
    result, people = imported(site, str(DATA / "ghost.csv"))
    assert result.exit_code == 0, result.output
    assert "gone@example.org: not subscribed to emails" in result.output
    assert people["nadia.haddad@example.org"]["categories"] == ["politics"]
    assert people["tom.ellery@example.co.uk"]["categories"] == ["sport"]
    assert people["tom.ellery@example.co.uk"]["status"] == "active"


def test_buttondown_export(site: Path) -> None:
    result, people = imported(site, str(DATA / "buttondown.csv"))
    assert result.exit_code == 0, result.output
    assert "left@example.org: unsubscribed" in result.output
    assert people["wanjiru.kamau@example.co.ke"]["categories"] == ["local"]
    assert "pending.person@example.org" in people


def test_listmonk_export(site: Path) -> None:
    result, people = imported(site, str(DATA / "listmonk.csv"))
    assert result.exit_code == 0, result.output
    assert "blocked@example.org: blocklisted" in result.output
    assert people["hana.yusuf@example.org"]["name"] == "Hana Yusuf"
    assert people["hana.yusuf@example.org"]["consent_at"] == "2024-08-05T07:00:00.123456+00:00"


def test_map_names_columns_no_tool_uses(site: Path) -> None:
    path = str(DATA / "crm-custom.csv")
    without = run(site, "subscribers", "import", "--confirmed", path)
    assert without.exit_code == 1
    assert "the header has no 'email' column (name it with --map COLUMN=email)" in (without.output)
    maps = [
        "Kontakt E-Mail=email", "Vorname=first_name", "Nachname=last_name",
        "Ressorts=tags", "Eingetragen=consent_at",
    ]  # fmt: skip
    result, people = imported(site, path, *(f"--map={m}" for m in maps))
    assert result.exit_code == 0, result.output
    lena = people["lena.vogel@example.de"]
    assert (lena["name"], lena["categories"]) == ("Lena Vogel", ["sport"])
    assert lena["consent_at"] == "2024-09-09T07:09:09+00:00"


def test_a_bad_map_is_one_line(site: Path) -> None:
    result = run(
        site, "subscribers", "import", str(DATA / "crm-custom.csv"), "--map", "Vorname=nickname"
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: --map 'Vorname=nickname': 'nickname' is not a field")


def test_the_consent_time_of_the_source_is_stored_on_both_databases(store: Store) -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    opted_in = datetime(2024, 3, 2, 9, 16, 3, tzinfo=UTC)
    items = [ImportItem(2, "a@example.org", consent_at=opted_in), ImportItem(3, "b@example.org")]
    store.subscribers.import_batch(items, SubscriberStatus.ACTIVE, "import", now)
    assert store.subscribers.get_by_email("a@example.org").consent_at == opted_in
    assert store.subscribers.get_by_email("b@example.org").consent_at == now
    pending = [ImportItem(4, "c@example.org", consent_at=opted_in)]
    store.subscribers.import_batch(pending, SubscriberStatus.PENDING, "import", now)
    assert store.subscribers.get_by_email("c@example.org").consent_at is None
