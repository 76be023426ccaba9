"""End to end: ``publisher serve`` sends the digest at its time, once, across restarts and
processes; ``make run`` from a fresh copy answers and ``publisher digest send`` fills the outbox.

Real processes, a real SQLite file or PostgreSQL, a real SMTP server (aiosmtpd) counting
what it accepts, and the real clock: the daily time is set a few seconds ahead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner
from conftest import another_weekday
from localhost import free_port
from smtp_counter import CountingServer
from sqlalchemy import create_engine, text
from test_serve import Serve, poll

from publisher.cli import main
from publisher.config import load_settings
from publisher.core import make_publisher
from publisher.types import SubscriberStatus

ZONE = ZoneInfo("Europe/London")
READERS = [f"reader{n}@example.org" for n in range(3)]
REPO = Path(__file__).parent.parent


def ahead(seconds: float) -> str:
    return (datetime.now(ZONE) + timedelta(seconds=seconds)).strftime("%H:%M:%S")


def today_key() -> str:
    return f"daily/{datetime.now(ZONE):%Y-%m-%d}"


def prepare(project: Path, env: dict[str, str]) -> None:
    """Init the store, add one article published now and three active daily readers."""
    result = CliRunner().invoke(main, ["--root", str(project), "init"], env=env)
    assert result.exit_code == 0, result.output
    publisher = make_publisher(load_settings(project, environ=env))
    try:
        story = b"---\ntitle: Bridge reopens\ncategories: [Local]\n---\nThe bridge is open.\n"
        report = publisher.add_sources([("bridge.md", story)])
        assert report.ok, report.errors
        for email in READERS:
            publisher._services.store.subscribers.add(email, status=SubscriberStatus.ACTIVE)
    finally:
        publisher.close()


def edition_keys(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT key FROM editions ORDER BY key")).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def smtp() -> Iterator[CountingServer]:
    with CountingServer() as server:
        yield server


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        serve.kill()


def service_env(database_url: str, smtp: CountingServer, daily_at: str) -> dict[str, str]:
    return {
        "PUBLISHER_DATABASE__URL": database_url,
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(smtp.port),
        "PUBLISHER_DIGEST__DAILY_AT": daily_at,
        "PUBLISHER_DIGEST__WEEKLY_ON": another_weekday(),
        "PUBLISHER_SCHEDULE__LEADER_POLL_SECONDS": "0.2",
        "PUBLISHER_MAIL__POLL_SECONDS": "0.2",
    }


@pytest.mark.slow
def test_serve_sends_one_edition_at_its_time_one_copy_per_subscriber(
    project: Path, tmp_path: Path, smtp: CountingServer, serves: list[Serve]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = service_env(database_url, smtp, ahead(8))
    prepare(project, env)
    serve = Serve(project, env)
    serves.append(serve)
    serve.wait_ready()
    poll(lambda: len(smtp.handler.received) >= len(READERS), timeout=30)
    time.sleep(1.5)
    assert smtp.handler.copies() == dict.fromkeys(READERS, 1)
    assert edition_keys(database_url) == [today_key()]
    health = serve.health()
    last = health["last_edition"]
    assert isinstance(last, dict) and last["key"] == today_key()
    assert last["counts"]["sent"] == len(READERS)
    assert serve.terminate() == 0


@pytest.mark.slow
def test_a_run_missed_while_serve_was_down_goes_out_once_after_restart(
    project: Path, tmp_path: Path, smtp: CountingServer, serves: list[Serve]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'store.db'}"
    fire_at = (datetime.now(ZONE) + timedelta(seconds=7)).replace(microsecond=0)
    env = service_env(database_url, smtp, fire_at.strftime("%H:%M:%S"))
    prepare(project, env)
    first = Serve(project, env)
    serves.append(first)
    first.wait_ready()
    poll(lambda: first.health()["scheduler"]["state"] == "leader")  # type: ignore[index]
    assert first.terminate() == 0  # down before the digest time ...
    assert datetime.now(ZONE) < fire_at
    time.sleep((fire_at - datetime.now(ZONE)).total_seconds() + 1)  # it passes while down
    assert smtp.handler.received == [] and edition_keys(database_url) == []
    second = Serve(project, env)
    serves.append(second)
    second.wait_ready()
    poll(lambda: len(smtp.handler.received) >= len(READERS), timeout=30)
    time.sleep(1.5)
    assert smtp.handler.copies() == dict.fromkeys(READERS, 1)
    assert edition_keys(database_url) == [today_key()]
    assert second.terminate() == 0


@pytest.mark.slow
def test_two_serves_and_a_manual_send_on_one_database_make_one_edition(
    project: Path, database_url: str, smtp: CountingServer, serves: list[Serve]
) -> None:
    fire_at = (datetime.now(ZONE) + timedelta(seconds=9)).replace(microsecond=0)
    env = service_env(database_url, smtp, fire_at.strftime("%H:%M:%S"))
    prepare(project, env)
    for _ in range(2):
        serves.append(Serve(project, env))
    for serve in serves:
        serve.wait_ready()
    # At the digest time, a third process sends by hand as well (it needs ~1 s to start).
    time.sleep(max(0.0, (fire_at - datetime.now(ZONE)).total_seconds() - 1.0))
    manual = subprocess.run(
        [sys.executable, "-m", "publisher", "--root", str(project), "digest", "send"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert manual.returncode == 0, manual.stderr
    poll(lambda: len(smtp.handler.received) >= len(READERS), timeout=30)
    time.sleep(2)
    assert smtp.handler.copies() == dict.fromkeys(READERS, 1)
    assert edition_keys(database_url) == [today_key()]
    states = sorted(s.health()["scheduler"]["state"] for s in serves)  # type: ignore[index]
    assert states == ["leader", "standby"]
    for serve in serves:
        assert serve.terminate() == 0


@pytest.mark.slow
def test_make_run_from_a_fresh_copy_serves_and_digest_send_fills_the_outbox(
    tmp_path: Path,
) -> None:
    """README's quick start: ``make run``, then ``publisher digest send`` in another terminal."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, clone / name)
    for folder in ("config", "examples"):
        shutil.copytree(REPO / folder, clone / folder)
    stamp = tmp_path / "installed-stamp"
    stamp.touch()  # the venv of this checkout stands in for the one `make` would create
    venv = Path(sys.executable).parent.parent
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env["PUBLISHER_WEB__PORT"] = str(port)
    env["PUBLISHER_SITE__URL"] = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "make-run.log"
    with log_path.open("w") as log:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"VENV={venv}", f"STAMP={stamp}"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"

            def answers() -> bool:
                assert make.poll() is None, log_path.read_text()
                try:
                    return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            poll(answers, timeout=60)
            home = httpx.get(f"{base}/", timeout=10)
            assert home.status_code == 200 and "This morning in Riverton" in home.text
            feed = httpx.get(f"{base}/feeds/rss.xml", timeout=10)
            assert feed.status_code == 200 and "This morning in Riverton" in feed.text
            health = httpx.get(f"{base}/healthz", timeout=10).json()
            assert health["status"] == "ok"
            poll(lambda: httpx.get(f"{base}/healthz").json()["scheduler"]["state"] == "leader")
            sent = subprocess.run(
                [str(venv / "bin" / "publisher"), "digest", "send"],
                cwd=clone,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert sent.returncode == 0, sent.stdout + sent.stderr
            last = httpx.get(f"{base}/healthz", timeout=10).json()["last_edition"]
            assert last["key"] == today_key() and last["counts"]["sent"] == 3
            assert httpx.get(f"{base}/archive", timeout=10).status_code == 200
            outbox = sorted((clone / "var" / "outbox").rglob("*.eml"))
            assert len(outbox) == 3  # the three daily readers of examples/demo/subscribers.csv
            recipients = {
                p.read_text(errors="replace").split("\nTo: ", 1)[1].split("\n")[0] for p in outbox
            }
            assert len(recipients) == 3
            text_log = log_path.read_text()
            assert f"home page: {base}/" in text_log
            assert "feed: " in text_log and "outbox: mail is written to" in text_log
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGTERM)  # what Ctrl-C in the terminal does
            make.wait(30)
    assert log_path.read_text().rstrip().endswith("publisher.serve: stopped")
