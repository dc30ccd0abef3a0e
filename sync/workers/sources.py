"""Sources: what every source worker shares, and the claim a finished import ends in.

Watched folders (``sync.workers.folder``) and polled buckets (``sync.workers.s3``) only
find files and hand them to ``sync.engine.pipeline.import_file``. Exactly once across
workers comes from ``sync.workers.claims``: a file is claimed in the database before
anything is imported, and a worker that loses the claim skips it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from schemas.tables import utcnow
from sync import faults
from sync.config import Settings, SourceSettings
from sync.engine.batch import ImportResult
from sync.engine.pipeline import import_file
from sync.errors import StoreError
from sync.log import event
from sync.store import Store
from sync.store.blobs import Fingerprint
from sync.workers import claims
from sync.workers.claims import DUPLICATE, FAILED, IMPORTED, REJECTED, Claim
from sync.workers.status import note_poll

CHUNK = 1 << 20


def claim_state(result: ImportResult) -> str:
    """Return the claim state an import result ends a claim in.

    Only ``failed`` (the store could not apply it) is tried again; any status meaning
    the pipeline took the file (``applied``, or one a review step adds) is imported.
    """
    return {
        "duplicate": DUPLICATE,
        "rejected": REJECTED,
        "failed": FAILED,
    }.get(result.status, IMPORTED)


class SourceWorker:
    """What every source needs: settings, store, and the runner's stop flag."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: SourceSettings,
        stopping: threading.Event,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.stopping = stopping
        self.problems = 0  # files rejected or failed, polls that failed (exit codes)
        self.setup()

    def setup(self) -> None:
        """What a kind of source adds to its state (called once, by ``__init__``)."""

    @property
    def name(self) -> str:
        return self.source.name

    def _warn(self, what: str, file: str, error: object) -> None:
        """Log that *file* of this source hit a passing problem (it is tried again)."""
        event(what, logging.WARNING, source=self.name, file=file, error=str(error))

    def _note(self, *, error: str | None = None, pending: int | None = None) -> None:
        """Record this source's last poll (and what waits) for ``billfold status``."""
        try:
            note_poll(self.store, self.name, error=error, pending=pending)
        except StoreError as exc:
            event(
                "status.write_failed", logging.WARNING, source=self.name, error=str(exc)
            )

    def retry_at(self, attempts: int) -> datetime | None:
        """When a failed file is next tried (None: given up after max_attempts)."""
        runner = self.settings.runner
        if attempts >= runner.max_attempts:
            return None
        return utcnow() + timedelta(seconds=runner.retry_seconds * 2 ** (attempts - 1))

    def import_claimed(
        self,
        claim: Claim,
        path: Path,
        name: str,
        as_of: datetime | None = None,
        known: Fingerprint | None = None,
        before_apply: Callable[[], None] | None = None,
    ) -> tuple[ImportResult, bool]:
        """Import a claimed file and record how its claim ended.

        Returns the result and whether this worker still held the claim at the end
        (False: another worker took it over meanwhile and now owns the file).
        """
        event(
            "file.importing",
            source=self.name,
            file=claim.file_key,
            attempt=claim.attempts,
            worker=claims.worker_id(),
        )
        result = import_file(
            self.store, self.settings, path, source=self.name, name=name, as_of=as_of,
            known=known, before_apply=before_apply,
        )  # fmt: skip
        faults.hit("imported")
        state = claim_state(result)
        retry = self.retry_at(claim.attempts) if state == FAILED else None
        if state in (REJECTED, FAILED):
            self.problems += 1
        kept = claims.finish_claim(
            self.store,
            claim,
            state,
            batch_id=result.batch_id,
            error=result.reason,
            retry_at=retry,
            lease_seconds=self.settings.runner.lease_seconds,
        )
        event(
            "file.done",
            source=self.name,
            file=claim.file_key,
            status=result.status,
            batch=result.batch_id,
            reason=result.reason,
            retry_at=retry,
        )
        return result, kept
