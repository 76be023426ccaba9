"""The scheduler: APScheduler wiring only; its jobs call the Publisher.

- :mod:`triggers`: when each job fires (cron in the site's zone), pure and tested for DST;
- :mod:`jobs`: the job functions the job store names, and their retries;
- :mod:`leader`: one scheduler per database, standbys taking over;
- :mod:`service`: the BackgroundScheduler with its SQLAlchemy job store.
"""

from __future__ import annotations

from publisher.schedule.jobs import Retry, ScheduledWork
from publisher.schedule.service import SchedulerService
from publisher.schedule.triggers import (
    JobSpec,
    LocalTimeTrigger,
    daily_trigger,
    job_specs,
    next_fire_times,
    weekly_trigger,
)

__all__ = [
    "JobSpec",
    "LocalTimeTrigger",
    "Retry",
    "ScheduledWork",
    "SchedulerService",
    "daily_trigger",
    "job_specs",
    "next_fire_times",
    "weekly_trigger",
]
