"""Schedules: parsing, the job store in the database, and one run at a time across workers."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from schemas.tables import SchedulerJob
from sync.errors import ConfigError
from sync.workers.schedule import Scheduler, parse_schedule
from tests.workers import wait_until


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("every 15 minutes", 900),
        ("every 1 hour", 3600),
        ("Every 2 Hours", 7200),
        ("every minute", 60),
        ("every 30 seconds", 30),
        ("every 1 day", 86400),
    ],
)
def test_intervals(text, seconds):
    assert parse_schedule(text).interval_seconds == seconds


def test_cron_lines():
    schedule = parse_schedule("0 6 * * 1-5")
    assert schedule.cron == "0 6 * * 1-5" and schedule.interval_seconds is None


@pytest.mark.parametrize(
    "text",
    ["sometimes", "every 0 minutes", "every 5 fortnights", "61 * * * *", "0 6 * *"],
)
def test_bad_schedules_say_what_is_expected(text):
    with pytest.raises(ConfigError, match="every 15 minutes|cron"):
        parse_schedule(text)


@pytest.mark.slow  # real worker processes and waits: seconds each
def test_two_schedulers_on_one_database_never_run_a_job_at_once(store):
    running = 0
    most = 0
    runs = 0
    guard = threading.Lock()

    def job() -> None:
        nonlocal running, most, runs
        with guard:
            running += 1
            runs += 1
            most = max(most, running)
        time.sleep(0.6)
        with guard:
            running -= 1

    workers = [Scheduler(store, lease_seconds=30, max_workers=2) for _ in range(2)]
    for scheduler in workers:
        scheduler.add("poll:shared", "every 1 second", job)
        scheduler.start()
    try:  # three runs, however busy the machine: each one had the chance to overlap
        wait_until(lambda: runs >= 3, 120, "three runs of the shared job")
    finally:
        for scheduler in workers:
            scheduler.shutdown()

    assert runs >= 3
    assert most == 1
    with store.read() as conn:
        ids = conn.execute(select(SchedulerJob.c.id)).scalars().all()
    assert ids == ["billfold:poll:shared"]  # one job, shared through the database


def test_jobs_of_removed_sources_are_dropped_from_the_store(store):
    old = Scheduler(store, lease_seconds=30)
    old.add("poll:gone", "every 1 hour", lambda: None)
    old.add("housekeeping", "every 10 minutes", lambda: None)
    old.start()
    old.shutdown()

    new = Scheduler(store, lease_seconds=30)
    new.add("housekeeping", "every 10 minutes", lambda: None)
    new.start()
    new.shutdown()

    with store.read() as conn:
        ids = conn.execute(select(SchedulerJob.c.id)).scalars().all()
    assert ids == ["billfold:housekeeping"]
