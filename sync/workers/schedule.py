"""Schedules: when polls, rescans and housekeeping run (the only module using APScheduler).

A schedule is written ``every 15 minutes`` / ``every 1 hour`` / ``every 30 seconds`` or
as a five-field cron line (``0 6 * * 1-5``, in ``runner.timezone``). ``billfold run``
keeps its jobs in APScheduler 3's ``SQLAlchemyJobStore`` in the billfold database
(table ``scheduler_job``), so every worker sees the same next run times. APScheduler 3
does not coordinate schedulers sharing a store, so every job run is guarded by a
``job_lock`` lease (``sync.workers.claims.run_exclusively``): of two workers that find the same
job due, one runs it and the other skips it.

The job store pickles a reference to ``run_job`` and the job's name; each process maps
names to its own functions with ``Scheduler.add``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sync.log import event
from sync.schedules import Schedule, parse_schedule
from sync.store import Store
from sync.workers.claims import run_exclusively

JOB_TABLE = "scheduler_job"
JOB_PREFIX = "billfold:"
STORE_RETRY_SECONDS = 10
# Job name -> the function this process runs for it (see ``run_job``).
_handlers: dict[str, Callable[[], None]] = {}


def make_trigger(schedule: Schedule, timezone: Any) -> BaseTrigger:
    """Return the APScheduler trigger for *schedule*."""
    if schedule.interval_seconds is not None:
        return IntervalTrigger(seconds=schedule.interval_seconds, timezone=timezone)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=timezone)


def run_job(name: str) -> None:
    """Run job *name* with this process's function for it (called by APScheduler)."""
    handler = _handlers.get(name)
    if handler is None:
        event("job.unknown", logging.WARNING, job=name)
        return
    handler()


class _JobStore(SQLAlchemyJobStore):
    """The job store, kept alive through database hiccups.

    APScheduler 3 lets an exception from these calls end its scheduling thread; a
    locked or unreachable database must only delay the next run.
    """

    def update_job(self, job: Any) -> None:
        try:
            super().update_job(job)
        except Exception as exc:  # the next wake-up tries again
            event("schedule.store_error", logging.WARNING, job=job.id, error=repr(exc))

    def remove_job(self, job_id: str) -> None:
        try:
            super().remove_job(job_id)
        except Exception as exc:
            event("schedule.store_error", logging.WARNING, job=job_id, error=repr(exc))

    def get_next_run_time(self) -> datetime | None:
        try:
            return super().get_next_run_time()
        except Exception as exc:
            event("schedule.store_error", logging.WARNING, error=repr(exc))
            return datetime.now(UTC) + timedelta(seconds=STORE_RETRY_SECONDS)


class Scheduler:
    """APScheduler 3 wired to the billfold database, every run under a job lock."""

    def __init__(
        self,
        store: Store,
        *,
        lease_seconds: int,
        timezone: str = "",
        max_workers: int = 4,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.names: list[str] = []
        options: dict[str, Any] = {}
        if timezone:
            from zoneinfo import ZoneInfo

            options["timezone"] = ZoneInfo(timezone)
        self._scheduler = BackgroundScheduler(
            jobstores={"default": _JobStore(engine=store.engine, tablename=JOB_TABLE)},
            executors={"default": ThreadPoolExecutor(max_workers)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": None,
            },
            **options,
        )

    def guarded(self, name: str, fn: Callable[[], object]) -> Callable[[], None]:
        """Return *fn* wrapped to run only under job lock *name*."""

        def run() -> None:
            try:
                run_exclusively(self.store, name, self.lease_seconds, fn)
            except Exception as exc:
                event("job.crashed", logging.ERROR, job=name, error=repr(exc))
                logging.getLogger("billfold").exception("job %s failed", name)

        return run

    def add(self, name: str, schedule: str, fn: Callable[[], object]) -> None:
        """Run *fn* on *schedule* under job lock *name*."""
        _handlers[name] = self.guarded(name, fn)
        self.names.append(name)
        trigger = make_trigger(parse_schedule(schedule), self._scheduler.timezone)
        # replace_existing: every worker stores the same job under the same id.
        self._scheduler.add_job(
            run_job,
            trigger,
            args=[name],
            id=JOB_PREFIX + name,
            name=name,
            replace_existing=True,
        )

    def start(self) -> None:
        """Start running jobs; drop stored jobs no configured source has any more."""
        self._scheduler.start()
        wanted = {JOB_PREFIX + n for n in self.names}
        for job in self._scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                self._scheduler.remove_job(job.id)
                event("schedule.removed", job=job.id)
        for job in self._scheduler.get_jobs():
            event("schedule.job", job=job.name, next_run=job.next_run_time)

    def shutdown(self) -> None:
        """Stop scheduling and wait for running jobs to finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        for name in self.names:
            _handlers.pop(name, None)
