"""The scheduled jobs: module-level functions the job store can name and call back.

APScheduler's SQLAlchemy job store pickles each job's function as a ``module:name`` text
reference and its arguments; a Publisher (engine, locks, caches) cannot be pickled and must
not be. So the running scheduler registers its Publisher here, and each job looks it up.

A job whose database is locked or unreachable at fire time logs the failure and tries
again, waiting ``schedule.retry_seconds`` and doubling, ``schedule.retry_attempts`` times.
A retry is safe by construction: the digest edition is unique per period key and the
ledger per (edition, subscriber), so a retried send finishes the first one, never doubles it.
Every retry of a digest uses the time of the first attempt, so it stays in its period.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine

from publisher.core import LeaderLock
from publisher.exceptions import PublisherError, StoreError
from publisher.types import Frequency, SendReport

log = logging.getLogger("publisher.schedule")


class FeedReport(Protocol):
    due: int

    def summary(self) -> str: ...


class FeedWork(Protocol):
    """The feed operations the jobs call (``Publisher.feeds``)."""

    def publish_due(self, now: datetime | None = None) -> FeedReport: ...

    def build(self, all: bool = False) -> FeedReport: ...


class ScheduledWork(Protocol):
    """What the scheduler uses of the Publisher (a Protocol, so tests may stand in)."""

    @property
    def feeds(self) -> FeedWork: ...

    def now(self) -> datetime: ...

    def scheduler_store(self, lock_name: str) -> tuple[Engine, LeaderLock]: ...

    def send_digest(
        self,
        frequency: Frequency,
        now: datetime | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> SendReport: ...

    @property
    def inbound(self) -> InboundPoll: ...


class InboundFetchReport(Protocol):
    @property
    def messages(self) -> int: ...


class InboundPoll(Protocol):
    """The inbound operation the jobs call (``Publisher.inbound``)."""

    def fetch(self) -> InboundFetchReport: ...


@dataclass(frozen=True)
class Retry:
    attempts: int = 5
    first_delay: float = 30.0


@dataclass(frozen=True)
class RunRecord:
    """The last run of one job, for ``/healthz``."""

    job_id: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    detail: str
    attempts: int

    def as_dict(self) -> dict[str, object]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "ok": self.ok,
            "detail": self.detail,
            "attempts": self.attempts,
        }


@dataclass
class Registration:
    work: ScheduledWork
    retry: Retry = field(default_factory=Retry)
    stop: threading.Event = field(default_factory=threading.Event)
    runs: dict[str, RunRecord] = field(default_factory=dict)


_current: Registration | None = None
_lock = threading.Lock()


def register(
    work: ScheduledWork, retry: Retry | None = None, stop: threading.Event | None = None
) -> Registration:
    """Make ``work`` the target of every job run in this process (one per process)."""
    global _current
    with _lock:
        _current = Registration(work, retry or Retry(), stop or threading.Event())
        return _current


def unregister(registration: Registration) -> None:
    global _current
    with _lock:
        if _current is registration:
            _current = None


def current() -> Registration:
    with _lock:
        found = _current
    if found is None:
        raise PublisherError("no Publisher is registered for scheduled jobs in this process")
    return found


# --- the jobs ------------------------------------------------------------------------------


def send_digest(frequency: str) -> None:
    """Create (or finish) this period's edition of ``frequency`` and deliver it."""
    reg = current()
    now = reg.work.now()

    def action(work: ScheduledWork) -> str:
        report = work.send_digest(Frequency(frequency), now, stop=reg.stop)
        return _describe_send(report)

    _run(reg, f"digest-{frequency}", action)


def publish_due_articles() -> None:
    """Put scheduled articles whose time came into the feeds (quiet when none is due)."""

    def action(work: ScheduledWork) -> str:
        report = work.feeds.publish_due(work.now())
        return f"{report.due} article(s) due; {report.summary()}" if report.due else ""

    _run(current(), "articles-publish-due", action)


def rebuild_feeds() -> None:
    """Rebuild every feed (writes changed bytes only): the safety net behind change hooks."""
    _run(current(), "feeds-rebuild", lambda work: work.feeds.build().summary())


def fetch_inbound() -> None:
    """Process and move the messages waiting in the IMAP bounce mailbox."""

    def action(work: ScheduledWork) -> str:
        found = work.inbound.fetch().messages
        return f"{found} inbound message(s) processed" if found else ""

    _run(current(), "inbound-fetch", action)


def _describe_send(report: SendReport) -> str:
    return (
        f"{report.edition_key or 'no edition'}: {report.sent} sent, {report.deferred} deferred, "
        f"{report.failed} failed, {report.suppressed} suppressed"
    )


def _run(reg: Registration, job_id: str, action: Callable[[ScheduledWork], str]) -> None:
    """Run ``action`` with retries on database failures; log and record the outcome."""
    started = datetime.now(UTC)
    delay = reg.retry.first_delay
    for attempt in range(1, reg.retry.attempts + 1):
        try:
            detail = action(reg.work)
        except StoreError as exc:
            if attempt == reg.retry.attempts or reg.stop.is_set():
                _record(reg, job_id, started, False, f"gave up: {exc}", attempt)
                log.error(
                    "%s failed %d time(s), giving up until its next run: %s", job_id, attempt, exc
                )
                return
            log.warning(
                "%s failed (try %d of %d), retrying in %.0f s: %s",
                job_id,
                attempt,
                reg.retry.attempts,
                delay,
                exc,
            )
            if reg.stop.wait(delay):
                _record(reg, job_id, started, False, f"stopped while retrying: {exc}", attempt)
                return
            delay *= 2
        except PublisherError as exc:
            _record(reg, job_id, started, False, str(exc), attempt)
            log.error("%s failed: %s", job_id, exc)
            return
        except Exception as exc:  # a bug: keep the scheduler alive, say what happened
            _record(reg, job_id, started, False, f"{type(exc).__name__}: {exc}", attempt)
            log.exception("%s crashed", job_id)
            return
        else:
            _record(reg, job_id, started, True, detail, attempt)
            if detail:
                log.info("%s: %s", job_id, detail)
            return


def _record(
    reg: Registration, job_id: str, started: datetime, ok: bool, detail: str, attempts: int
) -> None:
    reg.runs[job_id] = RunRecord(job_id, started, datetime.now(UTC), ok, detail, attempts)
