"""API sources (Xero, QuickBooks Online): pulled on their schedule by ``billfold run``.

``pull_source`` is the one entry point of a pull (schedules, ``billfold run --once``,
webhooks, "Pull now"): it runs ``sync.pulls.pull.pull`` under the job lock
``pull:<source>``, so one worker pulls a source at a time, hands it the job locks its
tokens are renewed under (``token:<source>``), and records the pull for ``billfold
status``.
"""

from __future__ import annotations

import contextlib
import threading

from sync.config import Settings
from sync.errors import StoreError
from sync.log import event
from sync.pulls.pull import PullOutcome, pull
from sync.pulls.requests import request_pull, take_requested
from sync.pulls.tokens import Locks
from sync.store import Store
from sync.workers.claims import acquire_lock, release_lock, run_exclusively
from sync.workers.sources import SourceWorker
from sync.workers.status import note_poll


def job_locks(store: Store, settings: Settings) -> Locks:
    """The workers' job locks, as the token keeper takes them."""
    lease = settings.runner.lease_seconds
    return Locks(
        take=lambda name: acquire_lock(store, name, lease),
        give=lambda name, holder: release_lock(store, name, holder),
    )


def pull_source(
    settings: Settings,
    store: Store,
    name: str,
    *,
    stopping: threading.Event | None = None,
    locked: bool = False,
) -> PullOutcome:
    """Pull API source *name* once (under its job lock, unless the caller holds it);
    ``skipped`` when another worker is pulling it now."""

    def once() -> PullOutcome:
        outcome = pull(settings, store, name, stopping=stopping,
                       locks=job_locks(store, settings))  # fmt: skip
        with contextlib.suppress(StoreError):
            note_poll(store, name, error=outcome.error, pending=0)
        return outcome

    if locked:
        return once()
    done: list[PullOutcome] = []
    if not run_exclusively(
        store,
        f"pull:{name}",
        settings.runner.lease_seconds,
        lambda: done.append(once()),
    ):
        return PullOutcome(name, "skipped")
    return done[0]


class ApiSource(SourceWorker):
    """One Xero or QuickBooks source of this worker."""

    def setup(self) -> None:
        self.last: PullOutcome | None = None

    @property
    def job(self) -> str:
        """The job lock (and scheduler job) name of this source's pulls."""
        return f"pull:{self.name}"

    def poll(self) -> None:
        """Pull once; the caller holds the job lock."""
        self.last = pull_source(
            self.settings, self.store, self.name, stopping=self.stopping, locked=True
        )
        if not self.last.ok:
            self.problems += 1


def pull_asked(store: Store, sources: list[ApiSource], lease_seconds: int) -> list[str]:
    """Pull the sources a webhook or an admin asked for, each under its job lock.

    A source another worker is pulling right now is asked for again, so a change that
    arrived after that pull started is read by the next one; a request for a source
    this worker does not have is left for one that has it."""
    by_name = {s.name: s for s in sources}
    with store.write(ledger=False) as conn:
        asked = take_requested(conn, sources=list(by_name))
    pulled = []
    for name in asked:
        source = by_name[name]
        event("pull.asked", source=name)
        if run_exclusively(store, source.job, lease_seconds, source.poll):
            pulled.append(name)
        else:
            with store.write(ledger=False) as conn:
                request_pull(conn, name, "asked again: another worker was pulling")
    return pulled
