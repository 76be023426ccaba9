"""Local delivery as editors and readers see it: `digest status`, `schedule show`, `/archive`.

A Karachi newsroom (07:00 PKT = 02:00 UTC) with one reader in Europe/London (07:00 GMT =
07:00 UTC on 26 March 2027) and one in Pacific/Kiritimati (07:00 LINT = 17:00 UTC the same
day). Nobody is on the site's clock, so nothing goes out at the close: the edition must
still be ``sending`` from its close (and listed in the archive at once) until its last
wave, then ``sent``. Readers come in through the CLI's import, the edition through the
scheduler's daily job, its waves through the worker; `digest status` and `schedule show`
are read through the CLI, the archive over HTTP. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import PublisherFactory
from webkit import KEY, TestClient

from publisher.cli import main
from publisher.config import load_settings
from publisher.core import MemoryTransport, Publisher
from publisher.schedule import jobs
from publisher.types import ArticleInput
from publisher.web import create_app

CLOSE = datetime(2027, 3, 26, 2, 0, tzinfo=UTC)  # 07:00 in Karachi
KEY_OF_DAY = "daily/2027-03-26"
LONDON = datetime(2027, 3, 26, 7, 0, tzinfo=UTC)
KIRITIMATI = datetime(2027, 3, 26, 17, 0, tzinfo=UTC)
ENV = {
    "PUBLISHER_SECRET_KEY": KEY,
    "PUBLISHER_SITE__TIMEZONE": "Asia/Karachi",
    "PUBLISHER_DIGEST__DAILY_AT": "07:00",
    "PUBLISHER_DIGEST__LOCAL_DELIVERY": "true",
    "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Cli:
    """`publisher ...` in the project, as an editor types it (the real clock)."""

    def __init__(self, project: Path) -> None:
        self.project = project

    def __call__(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--root", str(self.project), *args])
        assert result.exit_code == 0, result.output
        return result.output

    def status(self) -> dict[str, Any]:
        (edition,) = json.loads(self("digest", "status", KEY_OF_DAY, "--json"))
        return dict(edition)


@pytest.fixture
def cli(project: Path, database_url: str) -> Cli:
    env = {**ENV, "PUBLISHER_DATABASE__URL": database_url}
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), "utf-8")
    return Cli(project)


@pytest.fixture
def clock() -> Clock:
    return Clock(CLOSE - timedelta(hours=1))


@pytest.fixture
def publisher(cli: Cli, make_pub: PublisherFactory, clock: Clock) -> Iterator[Publisher]:
    """The service's Publisher on a clock the test moves, registered for the scheduler's jobs."""
    settings = load_settings(cli.project)
    made = make_pub(settings, transport=MemoryTransport(), clock=clock)
    registration = jobs.register(made)
    yield made
    jobs.unregister(registration)


def _import_readers(cli: Cli) -> None:
    source = cli.project / "readers.csv"
    source.write_text(
        "email,timezone\nlondon@example.org,Europe/London\n"
        "kiritimati@example.org,Pacific/Kiritimati\n",
        encoding="utf-8",
    )
    cli("subscribers", "import", str(source), "--confirmed")


def _waves(edition: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    return [(w["at"], w["readers"], w["sent"], w["pending"]) for w in edition["waves"]]


@pytest.mark.slow
def test_sending_from_the_close_until_the_last_wave_and_archived_at_once(
    cli: Cli, publisher: Publisher, clock: Clock
) -> None:
    _import_readers(cli)
    publisher.store_article(
        ArticleInput(title="Budget passed", content_html="<p>News.</p>", published_at=clock.now)
    )
    client = TestClient(create_app(publisher))
    assert KEY_OF_DAY not in client.get("/archive").text  # (and the page is cached so)

    clock.now = CLOSE
    jobs.send_digest("daily")  # the scheduler's daily job at the site's 07:00
    assert publisher.ops.scheduler_report() == {}  # no scheduler here: only its job ran
    status = cli.status()
    assert status["state"] == "sending" and status["counts"]["sent"] == 0
    assert _waves(status) == [(LONDON.isoformat(), 1, 0, 1), (KIRITIMATI.isoformat(), 1, 0, 1)]
    # At once: the archive page cached before the close is not served again (the service
    # runs the scheduler's job in the web's process; the page cache hears of the edition).
    archive = client.get("/archive")
    assert archive.status_code == 200 and f'href="/archive/{KEY_OF_DAY}"' in archive.text
    assert client.get(f"/archive/{KEY_OF_DAY}").status_code == 200

    text = cli("digest", "status", KEY_OF_DAY)
    assert "sending" in text and "2027-03-26 07:00:00" in text and "2027-03-26 17:00:00" in text
    wide = cli("digest", "status", KEY_OF_DAY, "--wide")
    # --wide adds each wave on the site's clock: 12:00 and 22:00 in Karachi.
    assert "wave (Asia/Karachi)" in wide and "2027-03-26 22:00:00 PKT" in wide

    # `schedule show` lists the closed edition's waves still to come, with zones and readers.
    shown = cli("schedule", "show")
    assert f"  {KEY_OF_DAY}: Fri 2027-03-26 12:00:00 PKT +0500  =  2027-03-26 07:00:00 UTC" in (
        shown
    )
    assert "    1 reader(s): Europe/London 1" in shown
    assert "    1 reader(s): Pacific/Kiritimati 1" in shown

    clock.now = LONDON
    publisher.drain()  # a worker: London's wave
    status = cli.status()
    assert status["state"] == "sending"
    assert _waves(status) == [(LONDON.isoformat(), 1, 1, 0), (KIRITIMATI.isoformat(), 1, 0, 1)]
    assert f'href="/archive/{KEY_OF_DAY}"' in client.get("/archive").text

    clock.now = KIRITIMATI - timedelta(minutes=1)
    publisher.drain()  # not yet Kiritimati's morning
    assert cli.status()["state"] == "sending"

    clock.now = KIRITIMATI
    publisher.drain()
    status = cli.status()
    assert status["state"] == "sent" and status["counts"]["sent"] == 2
    assert _waves(status) == [(LONDON.isoformat(), 1, 1, 0), (KIRITIMATI.isoformat(), 1, 1, 0)]
    assert f'href="/archive/{KEY_OF_DAY}"' in client.get("/archive").text
    assert f"{KEY_OF_DAY}: " not in cli("schedule", "show")  # no wave of it left to come


def test_schedule_show_plans_the_next_editions_waves_from_todays_readers(
    cli: Cli, make_pub: PublisherFactory
) -> None:
    """Before any edition: the next close's waves, each reader at 07:00 on their own clock."""
    make_pub(load_settings(cli.project))  # the store, as `publisher setup` makes it
    _import_readers(cli)
    before = datetime.now(UTC)
    (daily,) = [
        j for j in json.loads(cli("schedule", "show", "--json")) if j["id"] == "digest-daily"
    ]
    waves = daily["waves"]
    assert [sorted(w["zones"]) for w in waves] == [["Europe/London"], ["Pacific/Kiritimati"]]
    assert all(w["readers"] == 1 for w in waves)
    next_close = datetime.fromisoformat(daily["next_runs_utc"][0])
    assert next_close >= before
    for wave in waves:
        at = datetime.fromisoformat(wave["at_utc"])
        (zone,) = wave["zones"]
        assert at.astimezone(ZoneInfo(zone)).time() == time(7, 0), wave
        assert next_close <= at < next_close + timedelta(days=1), wave  # never before the close
        assert (
            wave["edition"] == f"daily/{next_close.astimezone(ZoneInfo('Asia/Karachi')):%Y-%m-%d}"
        )
