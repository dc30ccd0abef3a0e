"""API sources (Xero, QuickBooks Online): pulled on their schedule by ``billfold run``.

The runner's scheduler runs ``poll`` under the job lock ``pull:<source>``, the same
lock ``sync.pulls.pull.pull_source`` takes for a pull started anywhere else (a
webhook, "Pull now"), so one worker pulls a source at a time.
"""

from __future__ import annotations

from sync.pulls.pull import PullOutcome, pull_source
from sync.workers.sources import SourceWorker


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
