"""``publisher serve`` as a real process: web + scheduler (+ worker), logs, /healthz, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from localhost import free_port

from publisher.cli import main

pytestmark = pytest.mark.slow  # each test starts `publisher serve` as a process

SECRET = "test-secret-key-for-serve-0123456789abcdef"


class Serve:
    """One ``publisher serve`` process on loopback; its standard error is kept in a file."""

    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.log_path = root / f"serve-{self.port}.log"
        self._log = self.log_path.open("w", encoding="utf-8")
        environ = {**os.environ, "PUBLISHER_SECRET_KEY": SECRET, **env}
        environ.pop("PUBLISHER_ROOT", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "publisher",
                "--root",
                str(root),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=environ,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 20.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"serve exited early:\n{self.log()}"
            try:
                response = httpx.get(f"{self.url}/healthz", timeout=2)
                return dict(response.json())
            except httpx.HTTPError:
                assert time.monotonic() < deadline, f"serve never answered:\n{self.log()}"
                time.sleep(0.1)

    def health(self) -> dict[str, object]:
        return dict(httpx.get(f"{self.url}/healthz", timeout=5).json())

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8")

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        if not self._log.closed:
            self._log.close()


@pytest.fixture
def project(project: Path) -> Path:
    """The test project after ``publisher init`` (store created, secret key written)."""
    result = CliRunner().invoke(main, ["--root", str(project), "init"], env={})
    assert result.exit_code == 0, result.output
    return project


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        serve.kill()


def poll(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_serve_reports_the_scheduler_in_healthz_logs_json_and_stops_on_sigterm(
    project: Path, serves: list[Serve]
) -> None:
    env = {"PUBLISHER_SCHEDULE__LEADER_POLL_SECONDS": "0.2"}
    serve = Serve(project, env, "--log-json", "--no-worker")
    serves.append(serve)
    serve.wait_ready()
    poll(lambda: serve.health()["scheduler"]["state"] == "leader")  # type: ignore[index]
    health = serve.health()
    assert health["status"] == "ok" and health["database"] == "ok"
    scheduler = health["scheduler"]
    assert isinstance(scheduler, dict) and scheduler["timezone"] == "Europe/London"
    daily = {job["id"]: job for job in scheduler["jobs"]}["digest-daily"]
    assert daily["next_run"].endswith(("+00:00", "+01:00"))
    assert daily["next_run_utc"].endswith("+00:00")
    assert serve.terminate() == 0
    records = [json.loads(line) for line in serve.log().splitlines() if line.strip()]
    messages = [r["message"] for r in records]
    assert any("this process leads the scheduler" in m for m in messages)
    assert any(m.startswith("scheduled digest-daily: next run") for m in messages)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any('"GET /healthz HTTP/1.1" 200 OK' in r["message"] for r in access)
    assert access[0]["http"]["path"] == "/healthz" and access[0]["http"]["status"] == 200
    assert messages[-1] == "stopped"
    assert {r["level"] for r in records} <= {"debug", "info", "warning"}


def test_serve_without_scheduler_says_so_and_logs_text_lines(
    project: Path, serves: list[Serve]
) -> None:
    serve = Serve(project, {}, "--no-scheduler", "--no-worker")
    serves.append(serve)
    health = serve.wait_ready()
    assert health["scheduler"] == {"state": "disabled"}
    assert serve.terminate() == 0
    lines = serve.log().splitlines()
    assert any(" INFO    publisher.serve: serving " in line for line in lines)
    assert any(line.endswith('"GET /healthz HTTP/1.1" 200 OK') for line in lines)
    assert not any(line.startswith("{") for line in lines)
    with sqlite3.connect(project / "var" / "publisher.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "subscribers" in tables and "apscheduler_jobs" not in tables


@pytest.mark.slow
def test_a_second_serve_stands_by_and_takes_over_when_the_leader_is_killed(
    project: Path, serves: list[Serve]
) -> None:
    env = {"PUBLISHER_SCHEDULE__LEADER_POLL_SECONDS": "0.2"}
    first = Serve(project, env, "--no-worker")
    serves.append(first)
    first.wait_ready()
    poll(lambda: first.health()["scheduler"]["state"] == "leader")  # type: ignore[index]
    second = Serve(project, env, "--no-worker")
    serves.append(second)
    second.wait_ready()
    time.sleep(0.6)
    assert second.health()["scheduler"]["state"] == "standby"  # type: ignore[index]
    first.kill()  # SIGKILL: no clean-up; the lock goes with the process
    poll(lambda: second.health()["scheduler"]["state"] == "leader")  # type: ignore[index]
    assert second.terminate() == 0
