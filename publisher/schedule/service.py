"""The scheduler service: APScheduler wired to the job store, the leader lock and the jobs.

Jobs live in the same database as everything else (APScheduler's SQLAlchemy job store,
table ``apscheduler_jobs``), with ``coalesce`` (a backlog of missed runs becomes one run),
``max_instances=1`` and ``digest.misfire_grace_seconds``. On start, a stored job whose
trigger is unchanged is kept as it is, with its stored next run time: if that time passed
while the service was down, the job fires once at start (the catch-up edition). A job
whose trigger changed (new time, zone or weekday) is replaced.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from publisher.config import Settings
from publisher.schedule import jobs
from publisher.schedule.leader import LeaderElection
from publisher.schedule.triggers import JobSpec, job_specs, next_fire_times, site_zone

log = logging.getLogger("publisher.schedule")

JOBS_TABLE = "apscheduler_jobs"
LOCK_NAME = "scheduler"


class ResilientScheduler(BackgroundScheduler):  # type: ignore[misc]
    """A BackgroundScheduler whose loop survives a database failure while it schedules.

    APScheduler 3 retries reading due jobs when the job store fails, but not writing a
    job's next run time back: that exception ends its scheduling thread for good while
    ``running`` still says True. Here it is logged and the loop tries again after
    ``jobstore_retry_interval``. The job that was due may then be submitted again; that
    is safe (``max_instances=1``, and the edition key makes a rerun finish the same
    edition).
    """

    def _process_jobs(self) -> float | None:
        try:
            wait: float | None = super()._process_jobs()
        except Exception as exc:
            log.warning(
                "job store failed while scheduling, retrying in %s s: %s",
                self.jobstore_retry_interval,
                exc,
            )
            return float(self.jobstore_retry_interval)
        return wait


class SchedulerService:
    """Runs the jobs of ``job_specs(settings)`` against ``work`` while this process leads."""

    def __init__(
        self,
        settings: Settings,
        work: jobs.ScheduledWork,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.work = work
        self.zone = site_zone(settings)
        self.specs: list[JobSpec] = job_specs(settings)
        self.stop_event = stop or threading.Event()
        self.state = "stopped"
        self._scheduler: BackgroundScheduler | None = None
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._registration: jobs.Registration | None = None

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Register the jobs' target and start electing (returns at once)."""
        retry = jobs.Retry(
            self.settings.schedule.retry_attempts, self.settings.schedule.retry_seconds
        )
        self._registration = jobs.register(self.work, retry, self.stop_event)
        self._engine, lock = self.work.scheduler_store(LOCK_NAME)
        election = LeaderElection(
            lock,
            self._start_scheduler,
            self._stop_scheduler,
            self.settings.schedule.leader_poll_seconds,
            self.stop_event,
        )
        self.state = "standby"
        self._thread = threading.Thread(target=election.run, name="scheduler-leader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the scheduler (waiting for running jobs) and give up the leader lock."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._registration is not None:
            jobs.unregister(self._registration)
        self.state = "stopped"

    def _start_scheduler(self) -> None:
        scheduler = self._make_scheduler()
        scheduler.start(paused=True)
        try:
            self._sync_jobs(scheduler)
        except Exception:
            scheduler.shutdown(wait=False)
            raise
        scheduler.resume()
        with self._guard:
            self._scheduler = scheduler
        self.state = "leader"
        for job in scheduler.get_jobs():
            log.info("scheduled %s: next run %s", job.id, _local_and_utc(job.next_run_time))

    def _stop_scheduler(self) -> None:
        with self._guard:
            scheduler, self._scheduler = self._scheduler, None
        self.state = "stopped" if self.stop_event.is_set() else "standby"
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=self.stop_event.is_set())

    def _make_scheduler(self) -> ResilientScheduler:
        store = SQLAlchemyJobStore(engine=self._engine, tablename=JOBS_TABLE)
        scheduler = ResilientScheduler(
            jobstores={"default": store},
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults=self._job_defaults(),
            timezone=self.zone,
        )
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        return scheduler

    def _job_defaults(self) -> dict[str, Any]:
        return {
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": self.settings.digest.misfire_grace_seconds,
        }

    def _sync_jobs(self, scheduler: BackgroundScheduler) -> None:
        """Keep unchanged stored jobs (and their missed run); replace changed ones."""
        wanted = {spec.id for spec in self.specs}
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                log.info("removing job %s (no longer configured)", job.id)
                job.remove()
        for spec in self.specs:
            existing = scheduler.get_job(spec.id)
            if existing is not None and _same(existing, spec):
                scheduler.modify_job(spec.id, name=spec.description, **self._job_defaults())
                continue
            scheduler.add_job(
                spec.func,
                trigger=spec.trigger,
                args=list(spec.args),
                id=spec.id,
                name=spec.description,
                replace_existing=True,
            )

    def _on_missed(self, event: JobExecutionEvent) -> None:
        log.warning(
            "%s missed its run of %s (more than digest.misfire_grace_seconds late)",
            event.job_id,
            _local_and_utc(event.scheduled_run_time),
        )

    # --- reporting -------------------------------------------------------------------------

    def next_runs(self) -> dict[str, datetime | None]:
        """Next run per job: the job store's when leading, else computed from the triggers."""
        now = datetime.now(UTC)
        runs: dict[str, datetime | None] = {}
        for spec in self.specs:
            upcoming = next_fire_times(spec.trigger, now.astimezone(self.zone), 1)
            runs[spec.id] = upcoming[0] if upcoming else None
        with self._guard:
            scheduler = self._scheduler
        if scheduler is not None:
            try:
                runs.update({job.id: job.next_run_time for job in scheduler.get_jobs()})
            except Exception as exc:  # the database may be down; the health says so elsewhere
                log.debug("cannot read the job store: %s", exc)
        return runs

    def report(self) -> dict[str, object]:
        """The scheduler's part of ``/healthz``: state, zone, next runs, last outcomes."""
        runs = self._registration.runs if self._registration else {}
        next_runs = self.next_runs()
        listed = []
        for spec in self.specs:
            when = next_runs.get(spec.id)
            last = runs.get(spec.id)
            listed.append(
                {
                    "id": spec.id,
                    "description": spec.description,
                    "next_run": when.astimezone(self.zone).isoformat() if when else None,
                    "next_run_utc": when.astimezone(UTC).isoformat() if when else None,
                    "last_run": last.as_dict() if last else None,
                }
            )
        return {"state": self.state, "timezone": self.zone.key, "jobs": listed}


def _same(job: Any, spec: JobSpec) -> bool:
    return bool(
        repr(job.trigger) == repr(spec.trigger)
        and job.func_ref == spec.func
        and tuple(job.args) == spec.args
    )


def _local_and_utc(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return f"{moment.isoformat()} ({moment.astimezone(UTC).isoformat()})"
