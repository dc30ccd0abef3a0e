"""``billfold run``: watch folders, poll buckets and run schedules until told to stop.

Threads of one worker:

* watchdog observers (``sync.workers.watch``) note which folder files changed;
* the intake thread takes each folder file once it has settled (``sync.workers.sources``);
* the scheduler (``sync.workers.schedule``) runs S3 listings, folder rescans,
  housekeeping and the jobs the command line adds (planning email notices:
  ``sync.access.notices``), each under a job lock shared with every other worker;
* the importer takes the listed S3 objects one at a time, outside any job lock, so
  every worker imports a bucket's objects at once (``S3Source.retry_due``);
* API sources (Xero, QuickBooks) are pulled on their schedule, each pull under the job
  lock ``pull:<source>`` (``sync.workers.api``), and within a second or two when a
  webhook or an admin's "Pull now" asks for one (``sync.pulls.requests``);
* the heartbeat renews the leases of the claims and job locks this worker holds,
  every ``runner.renew_seconds`` (a crashed worker's claims are taken over once their
  ``runner.lease_seconds`` ran out, at once when it was a process on this machine).

SIGTERM or SIGINT stops taking new files, lets the import under way finish (it commits
or rolls back as one transaction), stops the scheduler and observers, and exits 0. A
second signal exits at once; the store rolls the unfinished import back.

``billfold run --once`` processes what is in every source now (waiting for folder files
to settle; one pull of every API source), then exits: 0 when every source was read and every file applied or was a
duplicate, 1 otherwise.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sync.api_sources import API_KINDS
from sync.config import Settings
from sync.errors import StoreError, UsageError
from sync.log import event
from sync.store import Store
from sync.workers import claims
from sync.workers.api import ApiSource, pull_asked
from sync.workers.folder import FolderSource
from sync.workers.housekeeping import tidy
from sync.workers.s3 import S3Source
from sync.workers.schedule import Scheduler
from sync.workers.watch import start_observer, stop_observer

ONCE_MIN_WAIT_SECONDS = 60.0
IMPORT_RECHECK_SECONDS = 1.0  # how often a worker looks for objects others listed
ASKED_PULL_SECONDS = 1.0  # not money: how often a worker looks for asked-for pulls


@dataclass(frozen=True)
class Job:
    """A scheduled job besides the sources' own, e.g. planning email notices."""

    name: str  # also its job lock: one worker runs it at a time
    schedule: str
    fn: Callable[[], object]


class Runner:
    """One worker: every configured source, the schedules and a graceful stop."""

    def __init__(
        self, settings: Settings, store: Store, jobs: Sequence[Job] = ()
    ) -> None:
        if not settings.sources:
            raise UsageError(
                "no sources are configured; add a [[sources]] table to the config file "
                "(see config.example.toml)"
            )
        self.settings = settings
        self.store = store
        self.jobs = tuple(jobs)
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.folders: list[FolderSource] = []
        self.buckets: list[S3Source] = []
        self.apis: list[ApiSource] = []
        for source in settings.sources:
            if source.kind == "folder":
                folder = FolderSource(settings, store, source, self.stopping)
                folder.wake = self.wake
                self.folders.append(folder)
            elif source.kind in API_KINDS:
                self.apis.append(ApiSource(settings, store, source, self.stopping))
            else:
                self.buckets.append(S3Source(settings, store, source, self.stopping))
        self._observers: dict[str, Any] = {}
        self._observers_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._heartbeat_done = threading.Event()
        self._signals = 0
        self.lease_seconds = settings.runner.lease_seconds
        self.renew_seconds = settings.runner.renew_seconds
        self.listed = threading.Event()  # a listing found objects: import them now

    # -- stopping ----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop taking new files; the run returns once the current import is done."""
        self.stopping.set()
        self.wake.set()
        self.listed.set()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals == 1:
            event("run.stopping", signal=name)
            self.stop()
            return
        event("run.aborted", logging.WARNING, signal=name)
        logging.shutdown()
        os._exit(1)  # the unfinished import's transaction rolls back with the process

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)

    # -- threads -------------------------------------------------------------------------

    def _start_thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _heartbeat(self) -> None:
        interval = self.renew_seconds
        while not self._heartbeat_done.wait(interval):
            try:
                claims.renew_leases(self.store, self.lease_seconds)
            except StoreError as exc:
                event("lease.renew_failed", logging.WARNING, error=str(exc))

    def _tick(self) -> float:  # not money
        quiet = min((f.source.quiet_seconds for f in self.folders), default=1.0)
        return min(0.25, max(0.05, quiet / 4))

    def _intake(self) -> None:
        tick = self._tick()
        while not self.stopping.is_set():
            for folder in self.folders:
                if self.stopping.is_set():
                    break
                try:
                    folder.process_ready()
                except Exception as exc:  # keep the worker alive; the file is retried
                    event(
                        "intake.crashed",
                        logging.ERROR,
                        source=folder.name,
                        error=repr(exc),
                    )
                    logging.getLogger("billfold").exception(
                        "intake of %s failed", folder.name
                    )
            self.wake.wait(tick)
            self.wake.clear()

    def _import_listed(self) -> None:
        """Import listed S3 objects (whoever listed them) until the run stops."""
        while not self.stopping.is_set():
            for bucket in self.buckets:
                if self.stopping.is_set():
                    break
                try:
                    bucket.retry_due()
                except Exception as exc:  # keep the worker alive; the object waits
                    event("intake.crashed", logging.ERROR, source=bucket.name,
                          error=repr(exc))  # fmt: skip
                    logging.getLogger("billfold").exception(
                        "import from %s failed", bucket.name
                    )
            self.listed.wait(min(IMPORT_RECHECK_SECONDS, self.renew_seconds))
            self.listed.clear()

    def _watch(self, folder: FolderSource) -> None:
        with self._observers_lock:
            if folder.name in self._observers or self.stopping.is_set():
                return
            try:
                self._observers[folder.name] = start_observer(
                    folder.folder, folder.notice, poll=folder.source.poll
                )
            except OSError as exc:
                event("watch.failed", logging.ERROR, source=folder.name, error=str(exc))

    # -- jobs ----------------------------------------------------------------------------

    def _rescan(self, folder: FolderSource) -> None:
        self._watch(folder)
        folder.scan()
        self.wake.set()

    def _poll(self, bucket: S3Source) -> None:
        """List *bucket* (under its job lock); the importer threads take the objects."""
        bucket.list_new()
        self.listed.set()

    def _housekeeping(self) -> None:
        tidy(self.store, self.settings, self.folders, self.buckets)

    # -- running -------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or ``stop``); return the exit code."""
        self._install_signal_handlers()
        self._start_thread("heartbeat", self._heartbeat)
        event(
            "run.started",
            worker=claims.worker_id(),
            sources=",".join(s.name for s in self.settings.sources),
        )
        scheduler = Scheduler(
            self.store,
            lease_seconds=self.lease_seconds,
            timezone=self.settings.runner.timezone,
            max_workers=len(self.settings.sources) + len(self.jobs) + 1,
        )
        for folder in self.folders:
            self._watch(folder)
            folder.scan()
            scheduler.add(
                f"scan:{folder.name}",
                folder.source.effective_schedule,
                functools.partial(self._rescan, folder),
            )
        for bucket in self.buckets:
            scheduler.add(
                f"poll:{bucket.name}",
                bucket.source.effective_schedule,
                functools.partial(self._poll, bucket),
            )
        for api in self.apis:
            scheduler.add(api.job, api.source.effective_schedule, api.poll)
        scheduler.add(
            "housekeeping", self.settings.runner.housekeeping, self._housekeeping
        )
        for job in self.jobs:
            scheduler.add(job.name, job.schedule, job.fn)
        intake = threading.Thread(target=self._intake, name="intake", daemon=True)
        intake.start()
        importer = threading.Thread(
            target=self._import_listed, name="importer", daemon=True
        )
        importer.start()
        scheduler.start()
        first_polls = [
            threading.Thread(
                target=scheduler.guarded(
                    f"poll:{b.name}", functools.partial(self._poll, b)
                ),
                name=f"first-poll:{b.name}",
                daemon=True,
            )
            for b in self.buckets
        ] + [
            threading.Thread(
                target=scheduler.guarded(api.job, api.poll),
                name=f"first-pull:{api.name}",
                daemon=True,
            )
            for api in self.apis
        ]
        for thread in first_polls:
            thread.start()
        if self.apis:
            self._start_thread("asked-pulls", self._asked_pulls)
        while not self.stopping.wait(1.0):
            pass
        with self._observers_lock:
            for observer in self._observers.values():
                stop_observer(observer)
            self._observers.clear()
        scheduler.shutdown()
        for thread in [intake, importer, *first_polls]:
            while thread.is_alive():  # short joins: a second signal can still abort
                thread.join(0.5)
        self._stop_heartbeat()
        event("run.stopped", worker=claims.worker_id())
        return 0

    def _asked_pulls(self) -> None:
        """Every second, pull the API sources a webhook or an admin asked for."""
        while not self.stopping.wait(ASKED_PULL_SECONDS):
            try:
                pull_asked(self.store, self.apis, self.lease_seconds)
            except StoreError as exc:
                event("pull.asked_failed", logging.WARNING, error=str(exc))

    def _stop_heartbeat(self) -> None:
        # Joined, not left to die with the interpreter: a daemon thread still writing
        # to the database or stderr at exit can abort the process.
        self._heartbeat_done.set()
        for thread in self._threads:
            while thread.is_alive():
                thread.join(0.5)

    def run_once(self) -> int:
        """Process what every source holds now, then return the exit code."""
        self._install_signal_handlers()
        self._start_thread("heartbeat", self._heartbeat)
        try:
            for folder in self.folders:
                if not self.stopping.is_set():
                    self._settle_and_take(folder)
            for bucket in self.buckets:
                if not self.stopping.is_set():
                    claims.run_exclusively(
                        self.store,
                        f"poll:{bucket.name}",
                        self.lease_seconds,
                        bucket.list_new,
                    )
                if not self.stopping.is_set():  # outside the lock: with the others
                    bucket.retry_due()
            for api in self.apis:
                if not self.stopping.is_set():
                    claims.run_exclusively(
                        self.store, api.job, self.lease_seconds, api.poll
                    )
            if not self.stopping.is_set():
                claims.run_exclusively(
                    self.store,
                    "housekeeping",
                    self.lease_seconds,
                    functools.partial(tidy, self.store, self.settings),
                )
            for job in self.jobs:
                if not self.stopping.is_set():
                    claims.run_exclusively(
                        self.store, job.name, self.lease_seconds, job.fn
                    )
        finally:
            self._stop_heartbeat()
        problems = sum(s.problems for s in [*self.folders, *self.buckets, *self.apis])
        event("run.once_done", problems=problems)
        return 1 if problems else 0

    def _settle_and_take(self, folder: FolderSource) -> None:
        """Wait for the files in *folder* to settle (bounded) and take each one."""
        if folder.scan() == 0:
            return
        tick = self._tick()
        deadline = time.monotonic() + max(
            ONCE_MIN_WAIT_SECONDS, 10 * folder.source.quiet_seconds
        )
        while len(folder.files) and not self.stopping.is_set():
            folder.process_ready()
            if time.monotonic() > deadline:
                event(
                    "file.unsettled",
                    logging.WARNING,
                    source=folder.name,
                    files=len(folder.files),
                    reason="still being written; left for the next run",
                )
                break
            time.sleep(tick)
