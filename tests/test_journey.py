"""A newsroom's day, end to end, through the product's own doors only.

Articles are imported with ``publisher articles import``, readers added with
``publisher subscribers add``; ``publisher serve`` runs with its scheduler set to fire the
daily digest seconds ahead and delivers into an aiosmtpd server; ``/archive`` lists the
edition the product marked sent and renders it; a reader unsubscribes with the one-click
link (RFC 8058) from the mail they received; the next edition does not go to them.

The next edition is the next day's: the second ``serve`` runs in a zone (UTC+14) whose
date is always later than the first one's (UTC-12), so its period key is a new one, as it
would be tomorrow. Nothing here writes the store; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner
from smtp_counter import CountingServer
from test_serve import SECRET, Serve, poll

from publisher.cli import main

READERS = [f"reader{n}@example.org" for n in range(3)]
TODAY = ZoneInfo("Etc/GMT+12")  # UTC-12: the POSIX sign is inverted
TOMORROW = ZoneInfo("Etc/GMT-14")  # UTC+14: always a later date than UTC-12


def article(folder: Path, name: str, title: str, zone: ZoneInfo, minutes_ago: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dated = (datetime.now(zone) - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")
    path = folder / f"{name}.md"
    path.write_text(f"---\ntitle: {title}\ndate: {dated}\n---\n{title}: the story.\n")
    return folder


def environment(database_url: str, smtp: CountingServer, zone: ZoneInfo) -> dict[str, str]:
    """The service's settings in ``zone`` (the digest's time is set when serve starts)."""
    return {
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_DATABASE__URL": database_url,
        "PUBLISHER_SITE__TIMEZONE": zone.key,
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(smtp.port),
        "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
        "PUBLISHER_SCHEDULE__LEADER_POLL_SECONDS": "0.2",
        "PUBLISHER_MAIL__POLL_SECONDS": "0.2",
    }


def cli(project: Path, env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, ["--root", str(project), *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def one_click_path(raw: bytes) -> str:
    """The path of the https link in List-Unsubscribe (its host is the configured site)."""
    message = message_from_bytes(raw, policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.search(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"]))
    assert found, message["List-Unsubscribe"]
    return urlsplit(found.group(1)).path


def serve_one_edition(
    project: Path,
    env: dict[str, str],
    zone: ZoneInfo,
    smtp: CountingServer,
    expected: int,
    serves: list[Serve],
) -> tuple[Serve, str]:
    """Start serve with the daily digest due in 10 s; wait until that edition is mailed and
    marked sent. Returns the serve and the edition's key."""
    fire = datetime.now(zone) + timedelta(seconds=10)
    key = f"daily/{fire:%Y-%m-%d}"
    serve = Serve(project, {**env, "PUBLISHER_DIGEST__DAILY_AT": fire.strftime("%H:%M:%S")})
    serves.append(serve)
    serve.wait_ready(timeout=60)  # generous: the machine running the tests may be busy
    poll(lambda: len(smtp.handler.received) >= expected, timeout=60)

    def settled() -> bool:
        [edition] = json.loads(cli(project, env, "digest", "status", key, "--json"))
        return bool(edition["state"] == "sent")

    poll(settled, timeout=40)
    return serve, key


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        serve.kill()


@pytest.fixture
def smtp() -> Iterator[CountingServer]:
    with CountingServer(keep=True) as server:
        yield server


@pytest.mark.slow
def test_import_serve_archive_unsubscribe_and_the_next_edition_skips_that_reader(
    project: Path, tmp_path: Path, database_url: str, smtp: CountingServer, serves: list[Serve]
) -> None:
    env = environment(database_url, smtp, TODAY)
    cli(project, env, "init")
    cli(project, env, "articles", "import", str(article(tmp_path / "a1", "b", "Bridge", TODAY, 30)))
    for email in READERS:
        cli(project, env, "subscribers", "add", email, "--confirmed")

    serve, first_key = serve_one_edition(project, env, TODAY, smtp, len(READERS), serves)
    try:
        assert smtp.handler.copies() == dict.fromkeys(READERS, 1)
        archive = httpx.get(f"{serve.url}/archive", timeout=10)
        assert f'href="/archive/{first_key}"' in archive.text
        page = httpx.get(f"{serve.url}/archive/{first_key}", timeout=10)
        assert page.status_code == 200 and "Bridge" in page.text
        # reader0 unsubscribes with the one-click link from the mail they received.
        raw = next(data for rcpt, data in smtp.handler.messages if rcpt == READERS[0])
        done = httpx.post(
            serve.url + one_click_path(raw),
            data={"List-Unsubscribe": "One-Click"},
            timeout=10,
        )
        assert done.status_code == 200, done.text
    finally:
        assert serve.terminate() == 0

    # The next day: a new article, a new edition from the scheduler, without reader0.
    env = environment(database_url, smtp, TOMORROW)
    cli(project, env, "articles", "import", str(article(tmp_path / "a2", "c", "Cup", TOMORROW, 0)))
    serve, second_key = serve_one_edition(
        project, env, TOMORROW, smtp, 2 * len(READERS) - 1, serves
    )
    try:
        assert second_key != first_key
        page = httpx.get(f"{serve.url}/archive/{second_key}", timeout=10)
        assert page.status_code == 200 and "Cup" in page.text
    finally:
        assert serve.terminate() == 0
    assert smtp.handler.copies() == {READERS[0]: 1, READERS[1]: 2, READERS[2]: 2}
    [edition] = json.loads(cli(project, env, "digest", "status", second_key, "--json"))
    assert edition["state"] == "sent" and edition["counts"]["sent"] == 2
