"""``publisher digest send``, ``digest status`` and ``publisher worker`` as a user runs them.

Real processes, a real SMTP server on loopback (aiosmtpd) that counts what it accepted, and
the store on SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dkim
import pytest
from conftest import POSTGRES_URL, _require_postgres, reset_postgres
from digest_support import make_dkim_key
from ledger_helpers import add_subscribers
from smtp_counter import CountingServer, Faults
from sqlalchemy import text

from publisher.config import load_settings
from publisher.core import make_publisher
from publisher.digest import message_id_for
from publisher.types import ArticleInput, Category, Frequency

# The commands run as subprocesses against a real store and SMTP server.
pytestmark = pytest.mark.slow


def environment(project: Path, database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env.update(
        {
            "PUBLISHER_ROOT": str(project),
            "PUBLISHER_SECRET_KEY": "test-secret-key-for-delivery-0123456789",
            "PUBLISHER_DATABASE__URL": database_url,
            "PUBLISHER_MAIL__TRANSPORT": "smtp",
            "PUBLISHER_MAIL__BATCH_SIZE": "20",
            "PUBLISHER_MAIL__RETRY_BASE_SECONDS": "0.05",
            "PUBLISHER_MAIL__POLL_SECONDS": "0.1",
            "PUBLISHER_SMTP__HOST": "127.0.0.1",
            "PUBLISHER_SMTP__PORT": str(port),
            "PUBLISHER_SMTP__CONNECTIONS": "2",
            "PUBLISHER_SMTP__TIMEOUT": "10",
            "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
        }
    )
    return env


class Site:
    """A project with one article and ``count`` active daily subscribers, and its mail server."""

    def __init__(self, project: Path, database_url: str, server: CountingServer) -> None:
        self.server = server
        self.env = environment(project, database_url, server.port)
        settings = load_settings(project, environ=self.env)
        self.publisher = make_publisher(settings, create=True)
        now = datetime.now(UTC)
        self.publisher.store_article(
            ArticleInput(
                title="Council approves the new library",
                content_html="<p>The vote was unanimous.</p>",
                published_at=now - timedelta(hours=2),
                categories=(Category("local", "Local"),),
            )
        )

    def subscribe(self, count: int, start: int = 0) -> None:
        add_subscribers(self.publisher._services.store, count, start)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "publisher", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def kill_mid_send(self, after: int, delay: float) -> None:
        """``digest send`` with the server slowed, SIGKILLed once ``after`` messages were
        accepted; the server is fast again for the rerun."""
        self.server.handler.faults.slow = 1.0
        self.server.handler.faults.delay = delay
        victim = self.start("digest", "send", "--json")
        deadline = time.monotonic() + 60
        while len(self.server.handler.received) < after and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=10)
        assert victim.returncode == -signal.SIGKILL
        self.server.handler.faults.slow = 0.0

    def one_message_id_each(self) -> bool:
        """Whether every copy a reader got has the same Message-ID (a repeat is the same
        message, which receivers can recognise)."""
        ids: dict[str, set[str]] = {}
        for rcpt, message_id in self.server.handler.received:
            ids.setdefault(rcpt, set()).add(message_id)
        return all(len(found) == 1 for found in ids.values())

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "publisher", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def site(project: Path, database_url: str) -> Iterator[Site]:
    with CountingServer() as server:
        made = Site(project, database_url, server)
        yield made
        made.publisher.close()


def test_digest_send_delivers_once_and_a_rerun_sends_nothing(site: Site) -> None:
    site.subscribe(120)
    first = site.run("digest", "send", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["sent"] == 120 and report["failed"] == 0
    assert report["edition_key"].startswith("daily/")
    copies = site.server.handler.copies()
    assert len(copies) == 120 and set(copies.values()) == {1}
    again = site.run("digest", "send", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sent"] == 0
    assert len(site.server.handler.received) == 120
    status = site.run("digest", "status", report["edition_key"], "--json")
    assert status.returncode == 0, status.stderr
    [edition] = json.loads(status.stdout)
    assert edition["counts"]["sent"] == 120 and edition["unfinished"] == 0
    # The send itself moved the edition to sent, with its start, finish and rate.
    assert edition["key"] == report["edition_key"] and edition["state"] == "sent"
    started = datetime.fromisoformat(edition["started_at"])
    finished = datetime.fromisoformat(edition["sent_at"])
    assert started <= finished <= datetime.now(UTC) and edition["rate"] > 0


def test_an_edition_with_failed_deliveries_ends_partial_and_says_so(
    project: Path, database_url: str
) -> None:
    # One try only, and the server answers 4xx to about half the messages: those fail.
    with CountingServer(Faults(temporary=0.5)) as server:
        made = Site(project, database_url, server)
        made.env["PUBLISHER_MAIL__MAX_ATTEMPTS"] = "1"
        try:
            made.subscribe(40)
            assert made.run("digest", "send").returncode == 0
            listed = made.run("digest", "status", "--json")
            table = made.run("digest", "status")
            wide = made.run("digest", "status", "--wide")
        finally:
            made.publisher.close()
    failed = server.handler.played["4xx"]
    assert 0 < failed < 40
    [edition] = json.loads(listed.stdout)
    assert edition["state"] == "partial" and edition["unfinished"] == 0
    assert edition["counts"]["sent"] == 40 - failed and edition["counts"]["failed"] == failed
    assert "partial" in table.stdout and edition["key"] in table.stdout
    assert "finished (UTC)" in wide.stdout and "msg/s" in wide.stdout


def test_dry_run_counts_and_sends_nothing(site: Site) -> None:
    site.subscribe(15)
    result = site.run("digest", "send", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["extra"]["recipients"] == 15 and plan["sent"] == 0
    assert site.server.handler.received == []
    assert site.run("digest", "send").returncode == 0
    assert len(site.server.handler.received) == 15


def test_status_of_an_unknown_edition_is_one_line_and_exit_1(site: Site) -> None:
    result = site.run("digest", "status", "daily/1999-01-01")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_two_digest_sends_started_together_never_double_send(site: Site) -> None:
    site.subscribe(400)
    procs = [site.start("digest", "send", "--json") for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    copies = site.server.handler.copies()
    assert len(copies) == 400 and set(copies.values()) == {1}
    assert sum(json.loads(out)["sent"] for out, _ in results) == 400


def test_sigint_during_send_exits_0_and_the_rerun_completes(site: Site) -> None:
    site.subscribe(300)
    site.server.handler.faults.slow = 1.0
    site.server.handler.faults.delay = 0.01
    proc = site.start("digest", "send", "--json")
    deadline = time.monotonic() + 60
    while len(site.server.handler.received) < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert 0 < json.loads(out)["sent"] < 300
    site.server.handler.faults.slow = 0.0
    assert site.run("digest", "send").returncode == 0
    copies = site.server.handler.copies()
    assert len(copies) == 300 and set(copies.values()) == {1}


@pytest.fixture
def postgres_site(project: Path) -> Iterator[Site]:
    _require_postgres()
    reset_postgres(POSTGRES_URL)
    with CountingServer() as server:
        made = Site(project, POSTGRES_URL, server)
        yield made
        made.publisher.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_on_postgres_deliver_each_recipient_once(postgres_site: Site) -> None:
    site = postgres_site
    site.subscribe(900)
    workers = [site.start("worker", "--json") for _ in range(3)]
    site.publisher._services.mailer.prepare(Frequency.DAILY)
    deadline = time.monotonic() + 90
    while len(site.server.handler.received) < 900 and time.monotonic() < deadline:
        time.sleep(0.05)
    while site.publisher._services.mailer.unfinished_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    results = [p.communicate(timeout=30) for p in workers]
    assert [p.returncode for p in workers] == [0, 0, 0], [err for _, err in results]
    copies = site.server.handler.copies()
    assert len(copies) == 900 and set(copies.values()) == {1}
    shares = [json.loads(out)["sent"] for out, _ in results]
    assert sum(shares) == 900 and sum(1 for n in shares if n) >= 2


@pytest.mark.slow
def test_sigkill_mid_send_then_rerun_nobody_missing_repeats_keep_message_id(site: Site) -> None:
    site.subscribe(300)
    site.env["PUBLISHER_MAIL__LEASE_SECONDS"] = "5"
    site.kill_mid_send(after=40, delay=0.01)
    time.sleep(5.2)  # the dead sender's lease runs out
    rerun = site.run("digest", "send", "--json")
    assert rerun.returncode == 0, rerun.stderr
    copies = site.server.handler.copies()
    assert len(copies) == 300  # nobody missing
    repeats = [rcpt for rcpt, n in copies.items() if n > 1]
    assert len(repeats) <= 20  # at most one claimed batch was in flight
    assert site.one_message_id_each()


@pytest.mark.slow
def test_a_signed_send_killed_mid_way_loses_nobody_and_every_copy_verifies(
    site: Site, tmp_path: Path
) -> None:
    """With DKIM on, the SMTP event loop builds messages a few rows ahead and a child
    process signs them (``delivery/build_ahead.py``). Building sends nothing, so the
    promise is the same as unsigned: after a SIGKILL mid-send the rerun takes the dead sender's
    rows at once (its 300 s lease is not waited out), nobody is missing, a kill repeats at
    most two messages per connection, a repeat carries the same Message-ID, and every
    copy is the reader's own and verifies with dkimpy."""
    key, record = make_dkim_key(tmp_path)
    site.env["PUBLISHER_DKIM__PRIVATE_KEY_PATH"] = str(key)
    site.env["PUBLISHER_MAIL__LEASE_SECONDS"] = "300"
    site.server.handler.keep = True
    site.subscribe(200)
    site.kill_mid_send(after=50, delay=0.005)
    time.sleep(0.2)  # the server finishes what the dead client had fully sent
    rerun = site.run("digest", "send", "--json", timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    copies = site.server.handler.copies()
    assert len(copies) == 200  # nobody missing
    assert sum(copies.values()) - 200 <= 2 * 2  # two connections, two unrecorded each
    assert site.one_message_id_each()

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.news.example.org."
        return record.encode("ascii")

    for rcpt, data in site.server.handler.messages:
        assert dkim.DKIM(data).verify(dnsfunc=lookup), rcpt
        assert rcpt in str(email.message_from_bytes(data)["To"])  # the reader's own copy


def test_to_sends_one_test_copy_and_writes_no_ledger(site: Site) -> None:
    site.subscribe(3)
    result = site.run("digest", "send", "--to", "editor@example.org")
    assert result.returncode == 0, result.stderr
    assert "250" in result.stdout
    assert [rcpt for rcpt, _ in site.server.handler.received] == ["editor@example.org"]
    assert site.publisher.delivery_status() == []


def test_digest_message_carries_the_derived_message_id(site: Site) -> None:
    site.subscribe(2)
    assert site.run("digest", "send").returncode == 0
    edition_key = site.publisher.delivery_status()[0].edition_key
    domain = "news.example.org"
    expected = {message_id_for(edition_key, sid, domain) for sid in (1, 2)}
    assert {mid for _, mid in site.server.handler.received} == expected


@pytest.mark.slow
def test_second_signal_exits_at_once_and_leases_keep_everyone(site: Site) -> None:
    site.subscribe(30)
    site.env["PUBLISHER_MAIL__LEASE_SECONDS"] = "5"
    site.server.handler.faults.slow = 1.0
    site.server.handler.faults.delay = 2.0  # every reply takes 2 s: always something in flight
    site.publisher._services.mailer.prepare(Frequency.DAILY)
    worker = site.start("worker")
    deadline = time.monotonic() + 30
    while not site.server.handler.tries and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.send_signal(signal.SIGINT)
    time.sleep(0.2)
    started = time.monotonic()
    worker.send_signal(signal.SIGINT)
    worker.communicate(timeout=10)
    assert worker.returncode == 128 + signal.SIGINT
    assert time.monotonic() - started < 1.5  # did not wait for the 2 s reply
    site.server.handler.faults.slow = 0.0
    time.sleep(5.1)  # the lease of the killed worker's claim runs out
    assert site.run("digest", "send").returncode == 0
    copies = site.server.handler.copies()
    assert len(copies) == 30


@pytest.mark.slow
def test_send_with_two_worker_processes_shares_the_work(site: Site) -> None:
    site.env["PUBLISHER_MAIL__HELPERS_FROM_ROWS"] = "0"  # helpers join however small
    site.subscribe(400)
    result = site.run("digest", "send", "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sent"] == 400  # the helper's share is counted too
    assert "warning" not in result.stderr  # the helper process ran and reported
    copies = site.server.handler.copies()
    assert len(copies) == 400 and set(copies.values()) == {1}
    assert len(site.server.handler.tries) == 400


@pytest.mark.slow
def test_a_small_edition_is_sent_by_one_process_even_with_workers(site: Site) -> None:
    """Below ``mail.helpers_from_rows`` (10,000 by default) two processes were slower than
    one (bench/scale.py at 3,000 readers). With fewer active readers than that no helper
    starts at all."""
    site.subscribe(120)
    result = site.run("digest", "send", "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sent"] == 120 and report["extra"]["helpers_sent"] == 0
    assert report["extra"]["helpers"] == 0  # none started
    assert "warning" not in result.stderr
    copies = site.server.handler.copies()
    assert len(copies) == 120 and set(copies.values()) == {1}


@pytest.mark.slow
def test_a_helper_started_for_a_big_list_stops_when_the_edition_is_small(site: Site) -> None:
    """Enough active readers to start a helper, but most take the weekly digest: the daily
    edition is under ``mail.helpers_from_rows``, so the helper hears "stop" and sends
    nothing, and every daily reader still gets one copy."""
    site.env["PUBLISHER_MAIL__HELPERS_FROM_ROWS"] = "100"
    site.subscribe(150)
    with site.publisher._services.store.engine.begin() as conn:  # 110 of them weekly
        conn.execute(text("UPDATE subscribers SET frequency = 'weekly' WHERE id > 40"))
    result = site.run("digest", "send", "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sent"] == 40 and report["extra"]["helpers_sent"] == 0
    assert report["extra"]["helpers"] == 1  # started, told "stop"
    assert "warning" not in result.stderr  # the helper exited cleanly, reporting nothing sent
    copies = site.server.handler.copies()
    assert len(copies) == 40 and set(copies.values()) == {1}


def test_worker_until_done_exits_when_every_row_is_final(site: Site) -> None:
    site.subscribe(25)
    site.publisher._services.mailer.prepare(Frequency.DAILY)
    result = site.run("worker", "--until-done", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sent"] == 25
    assert len(site.server.handler.copies()) == 25


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # exited, not yet reaped by its new parent


@pytest.mark.slow
def test_helpers_start_at_once_and_die_with_their_parent(site: Site) -> None:
    """A helper of `digest send --workers` stops when its parent dies, even by SIGKILL."""
    site.env["PUBLISHER_MAIL__HELPERS_FROM_ROWS"] = "0"  # helpers join however small
    site.subscribe(300)
    site.server.handler.faults.slow, site.server.handler.faults.delay = 1.0, 0.05
    parent = site.start("digest", "send", "--workers", "3", "--json")
    deadline = time.monotonic() + 20
    helpers: list[int] = []
    while len(helpers) < 2 and time.monotonic() < deadline:
        helpers = _children(parent.pid)
        time.sleep(0.05)
    assert len(helpers) == 2  # started before any message went out
    while len(site.server.handler.received) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(site.server.handler.received) >= 30, "the send never got going"
    parent.kill()
    parent.communicate(timeout=10)
    stopped = time.monotonic() + 10
    while not all(_gone(h) for h in helpers) and time.monotonic() < stopped:
        time.sleep(0.05)
    assert all(_gone(h) for h in helpers), "a helper kept running after its parent died"
    settled = len(site.server.handler.received)
    time.sleep(0.5)
    assert len(site.server.handler.received) == settled < 300  # nobody sends on, unseen
