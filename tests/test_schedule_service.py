"""The scheduler service in-process: jobs fire once, catch up after downtime, standbys take over.

These drive the real APScheduler, the real job store and the real leader lock on SQLite
and PostgreSQL. The work the jobs call is a recorder here (what the job asked for, and
when); the end-to-end tests with real editions and mail are in test_serve.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from conftest import POSTGRES_URL, _require_postgres, another_weekday, reset_postgres
from smtp_counter import CountingServer
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from publisher.config import Settings, load_settings
from publisher.core import LeaderLock, make_publisher
from publisher.exceptions import StoreError
from publisher.schedule import ScheduledWork, SchedulerService
from publisher.schedule.service import ResilientScheduler
from publisher.store import Store, open_store
from publisher.types import Frequency, SendReport, SubscriberStatus

ZONE = ZoneInfo("Europe/London")


@dataclass
class Report:
    due: int = 0

    def summary(self) -> str:
        return "0 feed(s)"


@dataclass
class RecordingWork:
    """Stands in for the Publisher: records each digest the scheduler asks for."""

    fail_times: int = 0
    calls: list[tuple[Frequency, datetime | None]] = field(default_factory=list)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send_digest(
        self,
        frequency: Frequency,
        now: datetime | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> SendReport:
        with self.lock:
            if self.fail_times:
                self.fail_times -= 1
                raise StoreError("cannot open the edition: database is locked")
            self.calls.append((frequency, now))
        return SendReport(f"{frequency.value}/test", sent=2)

    store: Store | None = None  # the database the scheduler keeps its jobs in (set by start)

    @property
    def feeds(self) -> RecordingWork:
        return self

    def now(self) -> datetime:
        return self.clock()

    def scheduler_store(self, lock_name: str) -> tuple[Engine, LeaderLock]:
        assert self.store is not None
        return self.store.engine, self.store.leader_lock(lock_name)

    def publish_due(self, now: datetime | None = None) -> Report:
        return Report()

    def build(self, all: bool = False) -> Report:
        return Report()


def seconds_ahead(seconds: float) -> str:
    return (datetime.now(ZONE) + timedelta(seconds=seconds)).strftime("%H:%M:%S")


def make_settings(project: Path, database_url: str, **env: str) -> Settings:
    environ = {
        "PUBLISHER_DATABASE__URL": database_url,
        "PUBLISHER_SCHEDULE__LEADER_POLL_SECONDS": "0.2",
        "PUBLISHER_SCHEDULE__RETRY_SECONDS": "0.1",
        "PUBLISHER_DIGEST__WEEKLY_ON": another_weekday(),
        **env,
    }
    return load_settings(project, environ=environ)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def services() -> Iterator[list[SchedulerService]]:
    started: list[SchedulerService] = []
    yield started
    for service in started:
        service.stop()


def start(
    services: list[SchedulerService], settings: Settings, store: Store, work: ScheduledWork
) -> SchedulerService:
    """Start a scheduler over ``work``; a RecordingWork keeps its jobs in ``store``."""
    if isinstance(work, RecordingWork):
        work.store = store
    service = SchedulerService(settings, work)
    services.append(service)
    service.start()
    return service


@pytest.mark.slow
def test_the_daily_job_fires_once_at_its_time_and_persists_in_the_database(
    project: Path, database_url: str, store: Store, services: list[SchedulerService]
) -> None:
    settings = make_settings(project, database_url, PUBLISHER_DIGEST__DAILY_AT=seconds_ahead(3))
    work = RecordingWork()
    service = start(services, settings, store, work)
    wait_for(lambda: service.state == "leader")
    with store.engine.connect() as conn:
        ids = set(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars())
    assert ids == {"digest-daily", "digest-weekly", "articles-publish-due", "feeds-rebuild"}
    wait_for(lambda: len(work.calls) == 1)
    time.sleep(1.5)
    assert [f for f, _ in work.calls] == [Frequency.DAILY]
    report = service.report()
    assert report["state"] == "leader" and report["timezone"] == "Europe/London"
    jobs = {job["id"]: job for job in report["jobs"]}  # type: ignore[attr-defined]
    daily = jobs["digest-daily"]
    assert daily["last_run"]["ok"] is True
    assert daily["last_run"]["detail"] == "daily/test: 2 sent, 0 deferred, 0 failed, 0 suppressed"
    next_run = datetime.fromisoformat(daily["next_run"])
    assert timedelta(hours=23) < next_run - datetime.now(UTC) <= timedelta(hours=25)
    assert datetime.fromisoformat(daily["next_run_utc"]) == next_run


@pytest.mark.slow
def test_a_run_missed_while_down_fires_once_when_the_process_restarts(
    project: Path, database_url: str, store: Store, services: list[SchedulerService]
) -> None:
    settings = make_settings(project, database_url, PUBLISHER_DIGEST__DAILY_AT=seconds_ahead(3))
    first = start(services, settings, store, RecordingWork())
    wait_for(lambda: first.state == "leader")
    first.stop()  # the service goes down before 07:00 (here: before its run, 3 s ahead)
    time.sleep(3.5)  # ... and the run time passes while nothing runs
    restarted_store = open_store(database_url)
    try:
        work = RecordingWork()
        second = start(services, settings, restarted_store, work)
        wait_for(lambda: len(work.calls) == 1)  # the catch-up edition
        time.sleep(1.5)
        assert len(work.calls) == 1
        second.stop()
        # A further restart finds the job already moved to tomorrow: no second catch-up.
        again = RecordingWork()
        third = start(services, settings, restarted_store, again)
        wait_for(lambda: third.state == "leader")
        time.sleep(1.0)
        assert again.calls == []
    finally:
        for service in services:
            service.stop()
        restarted_store.close()


def test_a_changed_time_replaces_the_stored_job(
    project: Path, database_url: str, store: Store, services: list[SchedulerService]
) -> None:
    early = make_settings(project, database_url, PUBLISHER_DIGEST__DAILY_AT="06:00")
    first = start(services, early, store, RecordingWork())
    wait_for(lambda: first.state == "leader")
    first.stop()
    later = make_settings(project, database_url, PUBLISHER_DIGEST__DAILY_AT="08:30")
    second = start(services, later, store, RecordingWork())
    wait_for(lambda: second.state == "leader")
    runs = second.next_runs()
    daily = runs["digest-daily"]
    assert daily is not None and daily.astimezone(ZONE).strftime("%H:%M") == "08:30"


def test_one_leader_and_a_standby_that_takes_over_when_it_stops(
    project: Path, database_url: str, store: Store, services: list[SchedulerService]
) -> None:
    settings = make_settings(project, database_url)
    leader = start(services, settings, store, RecordingWork())
    wait_for(lambda: leader.state == "leader")
    other_store = open_store(database_url)
    try:
        standby = start(services, settings, other_store, RecordingWork())
        time.sleep(0.6)
        assert standby.state == "standby" and leader.state == "leader"
        assert standby.report()["jobs"]  # next runs are known from the settings
        leader.stop()
        wait_for(lambda: standby.state == "leader")
        standby.stop()
        assert standby.state == "stopped"
    finally:
        other_store.close()


@pytest.mark.slow
def test_a_database_failure_at_fire_time_is_logged_and_retried_not_doubled(
    project: Path,
    database_url: str,
    store: Store,
    services: list[SchedulerService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(project, database_url, PUBLISHER_DIGEST__DAILY_AT=seconds_ahead(3))
    work = RecordingWork(fail_times=2)
    service = start(services, settings, store, work)
    wait_for(lambda: len(work.calls) == 1)
    time.sleep(0.5)
    assert len(work.calls) == 1
    fired_at = work.calls[0][1]
    assert fired_at is not None
    # Every try used the time of the first one, so the retry stays in its period.
    assert datetime.now(UTC) - fired_at > timedelta(seconds=0.25)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("digest-daily failed (try" in m for m in warnings) == 2
    assert any("database is locked" in m for m in warnings)
    last = {job["id"]: job for job in service.report()["jobs"]}["digest-daily"]  # type: ignore[attr-defined]
    assert last["last_run"]["attempts"] == 3 and last["last_run"]["ok"] is True


def test_a_job_that_keeps_failing_gives_up_until_its_next_run(
    project: Path,
    database_url: str,
    store: Store,
    services: list[SchedulerService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        project,
        database_url,
        PUBLISHER_DIGEST__DAILY_AT=seconds_ahead(3),
        PUBLISHER_SCHEDULE__RETRY_ATTEMPTS="2",
    )
    work = RecordingWork(fail_times=5)
    service = start(services, settings, store, work)
    wait_for(lambda: any("giving up" in r.getMessage() for r in caplog.records))
    assert work.calls == []
    assert service.state == "leader"  # the scheduler lives on
    last = {job["id"]: job for job in service.report()["jobs"]}["digest-daily"]  # type: ignore[attr-defined]
    assert last["last_run"]["ok"] is False and "database is locked" in last["last_run"]["detail"]


class FlakyJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """APScheduler's own job store, failing like a database outage on its first write-back."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.failures = 1

    def update_job(self, job: object) -> None:
        if self.failures:
            self.failures -= 1
            raise OperationalError("UPDATE apscheduler_jobs", {}, Exception("database is locked"))
        super().update_job(job)


RUNS: list[float] = []


def count_run() -> None:
    RUNS.append(time.monotonic())


def test_the_scheduling_loop_survives_a_database_failure_while_writing_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    RUNS.clear()
    jobstore = FlakyJobStore(url=f"sqlite:///{tmp_path / 'jobs.db'}")
    scheduler = ResilientScheduler(jobstores={"default": jobstore}, jobstore_retry_interval=0.5)
    scheduler.start()
    try:
        scheduler.add_job(f"{__name__}:count_run", "interval", seconds=0.5, id="tick")
        wait_for(lambda: len(RUNS) >= 3)  # plain BackgroundScheduler stops after the first
    finally:
        scheduler.shutdown()
    assert any("job store failed while scheduling" in r.getMessage() for r in caplog.records)
    assert jobstore.failures == 0


def test_a_scheduled_article_enters_the_feed_when_its_time_comes(
    project: Path, services: list[SchedulerService]
) -> None:
    """The publish-due job with the real Publisher: feeds built at first, the article later."""
    settings = make_settings(
        project,
        f"sqlite:///{project / 'store.db'}",
        PUBLISHER_SCHEDULE__PUBLISH_CHECK_SECONDS="1",
    )
    publisher = make_publisher(settings, create=True)
    try:
        publisher.feeds.build()
        due = (datetime.now(UTC) + timedelta(seconds=2)).isoformat(timespec="seconds")
        story = f"---\ntitle: Embargoed budget story\ndate: {due}\n---\nThe budget.\n"
        assert publisher.add_sources([("budget.md", story.encode())]).ok
        rss = settings.path(settings.feeds.dir) / "rss.xml"
        assert "Embargoed budget story" not in rss.read_text(encoding="utf-8")
        service = start(services, settings, publisher._services.store, publisher)
        wait_for(lambda: service.state == "leader")
        wait_for(lambda: "Embargoed budget story" in rss.read_text(encoding="utf-8"), 15)
        service.stop()
    finally:
        publisher.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_an_unreachable_database_at_fire_time_is_retried_into_one_edition(
    project: Path, services: list[SchedulerService], caplog: pytest.LogCaptureFixture
) -> None:
    """A real outage: PostgreSQL refuses every connection to the database around fire time."""
    _require_postgres()
    reset_postgres(POSTGRES_URL)
    url = make_url(POSTGRES_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database

    def outage(on: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not on).lower()}'))
            if on:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": name},
                )

    with CountingServer() as smtp:
        fire_at = (datetime.now(ZONE) + timedelta(seconds=4)).replace(microsecond=0)
        settings = make_settings(
            project,
            POSTGRES_URL,
            PUBLISHER_DIGEST__DAILY_AT=fire_at.strftime("%H:%M:%S"),
            PUBLISHER_SCHEDULE__RETRY_SECONDS="0.5",
            PUBLISHER_SCHEDULE__RETRY_ATTEMPTS="6",
            PUBLISHER_MAIL__TRANSPORT="smtp",
            PUBLISHER_SMTP__HOST="127.0.0.1",
            PUBLISHER_SMTP__PORT=str(smtp.port),
            PUBLISHER_SECRET_KEY="outage-test-secret-0123456789abcdef",
        )
        publisher = make_publisher(settings)
        try:
            story = b"---\ntitle: Flood warning\n---\nRiver levels are rising.\n"
            assert publisher.add_sources([("flood.md", story)]).ok
            readers = [f"reader{n}@example.org" for n in range(3)]
            for email in readers:
                publisher._services.store.subscribers.add(email, status=SubscriberStatus.ACTIVE)
            service = start(services, settings, publisher._services.store, publisher)
            wait_for(lambda: service.state == "leader")
            time.sleep(max(0.0, (fire_at - datetime.now(ZONE)).total_seconds() - 0.7))
            outage(True)
            try:
                time.sleep(2.5)  # the digest fires in the middle of the outage
            finally:
                outage(False)
            wait_for(lambda: len(smtp.handler.received) >= len(readers), 30)
            time.sleep(1.0)
            assert smtp.handler.copies() == dict.fromkeys(readers, 1)
            with publisher._services.store.engine.connect() as conn:
                keys = list(conn.execute(text("SELECT key FROM editions")).scalars())
            assert keys == [f"daily/{fire_at:%Y-%m-%d}"]
            # Either path is fine, both were taken in practice: the leader notices its lock
            # connection died and stands by, then catches up once re-elected; or the job
            # itself fails and retries. Either way: logged, one edition, one copy each.
            messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
            assert any(
                "lost the scheduler lock" in m or "digest-daily failed (try 1 of 6)" in m
                for m in messages
            ), messages
            service.stop()
        finally:
            outage(False)
            admin.dispose()
            publisher.close()
