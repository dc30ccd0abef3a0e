"""Folder sources: a watched folder whose settled files are claimed, imported, moved.

A file is taken once its size and modification time have not changed for
``quiet_seconds`` (a moment is enough for a file renamed into the folder). Temporary
and hidden names are ignored (``is_ignored``). After its import the file moves to
``processed/`` (applied, duplicate) or ``failed/`` (rejected, or failing after
``runner.max_attempts``), its name prefixed with the batch id; nothing is deleted or
overwritten. A file whose import failed (the store was locked) stays and is retried.
Files that settle together are taken oldest (modification time) first; a file's
modification time is its export's as-of time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from schemas.tables import utcnow
from sync import faults
from sync.engine.batch import find_applied_batch
from sync.errors import SourceError, StoreError
from sync.log import event
from sync.store.blobs import fingerprint
from sync.workers import claims
from sync.workers.claims import DUPLICATE, FAILED, IMPORTED, Claim
from sync.workers.sources import SourceWorker, claim_state
from sync.workers.status import note_pending

TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
RENAMED_SETTLE_SECONDS = 0.5
PROCESSED = "processed"
FAILED_DIR = "failed"


def is_ignored(name: str) -> bool:
    """True for names a writer uses while a file is incomplete, and hidden files."""
    lowered = name.lower()
    return (
        not name
        or name.startswith(".")
        or name.startswith("~$")
        or name.endswith("~")
        or lowered.endswith(TEMP_SUFFIXES)
    )


# -- folders ----------------------------------------------------------------------------


@dataclass
class _Seen:
    signature: tuple[int, int] | None  # (size, mtime_ns) when last looked at
    since: float  # not money: monotonic time the signature was first seen
    renamed: bool


class StableFiles:
    """Files a folder source is waiting on, and which of them have settled.

    A file is ready when its size and modification time have not changed for
    ``quiet_seconds`` of observation, or for a moment when it was renamed into place.
    """

    def __init__(
        self,
        quiet_seconds: float,  # not money
        clock: Callable[[], float] = time.monotonic,  # not money
    ) -> None:
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def notice(self, name: str, renamed: bool = False) -> None:
        """Start (or keep) watching *name*; *renamed*: it was moved into the folder."""
        with self._lock:
            seen = self._seen.get(name)
            if seen is None:
                self._seen[name] = _Seen(None, self.clock(), renamed)
            elif renamed:
                seen.renamed = True

    def forget(self, name: str) -> None:
        """Stop watching *name*."""
        with self._lock:
            self._seen.pop(name, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._seen

    def ready(self, folder: Path) -> list[str]:
        """Return (and stop watching) the files that have settled, oldest first; drop
        vanished ones."""
        now = self.clock()
        out = []
        with self._lock:
            names = list(self._seen)
        for name in names:
            try:
                stat = (folder / name).stat()
            except FileNotFoundError:
                self.forget(name)
                continue
            except OSError:
                continue  # try again on the next look
            if not os.path.isfile(folder / name):
                self.forget(name)
                continue
            signature = (stat.st_size, stat.st_mtime_ns)
            with self._lock:
                seen = self._seen.get(name)
                if seen is None:
                    continue
                if seen.signature != signature:
                    if seen.signature is not None:
                        seen.renamed = False  # still being written after the rename
                    seen.signature, seen.since = signature, now
                    continue
                needed = (
                    min(self.quiet_seconds, RENAMED_SETTLE_SECONDS)
                    if seen.renamed
                    else self.quiet_seconds
                )
                if now - seen.since >= needed:
                    del self._seen[name]
                    out.append((stat.st_mtime_ns, name))
        return [name for _, name in sorted(out)]


def _stat_signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _changed(path: Path, before: tuple[int, int]) -> bool:
    try:
        return _stat_signature(path) != before
    except FileNotFoundError:
        return False  # moved by a worker that took the claim over: not ours to judge
    except OSError:
        return True


class FolderSource(SourceWorker):
    """A watched folder: settles, claims, imports and files away each export dropped in."""

    def setup(self) -> None:
        self.folder = Path(self.source.path)
        self.files = StableFiles(self.source.quiet_seconds)
        self._retry_after: dict[str, float] = {}  # name -> monotonic time
        self.wake = threading.Event()

    def notice(self, name: str, renamed: bool = False) -> None:
        """A watcher saw *name* change (called from the watchdog thread)."""
        if is_ignored(name) or name in self._retry_after:
            return
        self.files.notice(name, renamed)
        self.wake.set()

    def listing(self) -> list[str]:
        """Return the names of the files waiting in the folder (not temp names)."""
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            raise SourceError(f"folder {self.folder} does not exist") from None
        except OSError as exc:
            raise SourceError(f"cannot list folder {self.folder}: {exc}") from exc
        names = []
        for entry in entries:
            try:
                if entry.is_file() and not is_ignored(entry.name):
                    names.append(entry.name)
            except OSError:
                continue
        return sorted(names)

    def scan(self) -> int:
        """Look at every file in the folder (start-up and the periodic rescan)."""
        try:
            names = self.listing()
        except SourceError as exc:
            self.problems += 1
            event("source.error", logging.ERROR, source=self.name, error=str(exc))
            self._note(error=str(exc))
            return 0
        for name in names:
            self.notice(name)
        self._note(pending=len(names))
        return len(names)

    def process_ready(self) -> int:
        """Take every file that has settled; return how many were looked at."""
        now = time.monotonic()
        for name, when in list(self._retry_after.items()):
            if when <= now:
                self._retry_after.pop(name, None)
                self.files.notice(name)
        ready = self.files.ready(self.folder)
        for name in ready:
            if self.stopping.is_set():
                self.files.notice(name)  # still there for the next run
                continue
            self.take(name)
        if ready:
            with contextlib.suppress(SourceError, StoreError):
                note_pending(self.store, self.name, len(self.listing()))
        return len(ready)

    def _later(self, name: str, seconds: float) -> None:  # not money
        self._retry_after[name] = time.monotonic() + seconds

    def take(self, name: str) -> None:
        """Claim, import and file away one settled file (or leave it to its holder)."""
        path = self.folder / name
        try:
            before = _stat_signature(path)
            known = fingerprint(path)  # the import reuses it: one read, one hash
            signature, size = known.sha256, known.size
        except FileNotFoundError:
            return
        except OSError as exc:
            self._warn("file.unreadable", name, exc)
            self._later(name, self.settings.runner.retry_seconds)
            return
        lease = self.settings.runner.lease_seconds
        try:
            got = claims.claim_file(
                self.store,
                self.name,
                name,
                signature,
                lease_seconds=lease,
                size=size,
                reclaim_moved=path.is_file,
            )
        except StoreError as exc:
            self._warn("claim.failed", name, exc)
            self._later(name, self.settings.runner.retry_seconds)
            return
        claim = got.claim
        if got.outcome == "held":
            event("file.skipped", source=self.name, file=name, holder=claim.claimed_by)
            return
        if got.outcome == "done":
            self._settle_finished(claim, path)
            return
        faults.hit("claimed")
        try:
            result, kept = self.import_claimed(claim, path, name, known=known)
        except StoreError as exc:  # the claim could not be written: it expires
            self._warn("claim.failed", name, exc)
            claims.let_go(claim)
            self._later(name, self.settings.runner.retry_seconds)
            return
        except BaseException:
            claims.let_go(claim)  # orphaned at once: any worker may take it over
            raise
        if not kept:
            return  # the worker that took the claim over files the file away
        state = claim_state(result)
        if result.sha256 is None and not path.exists():
            claims.drop_claim(self.store, claim, "the file was removed before import")
            return
        if state == FAILED and self.retry_at(claim.attempts) is not None:
            claims.let_go(claim)
            self._later(name, self._seconds_until_retry(claim.attempts))
            return
        if _changed(path, before):
            # Written to again after it seemed settled: leave it where it is, so the
            # writer's file stays whole; once it settles again its new bytes are a
            # new file (and what this import took is never undone or doubled).
            event(
                "file.changed_during_import",
                logging.WARNING,
                source=self.name,
                file=name,
            )
            claims.let_go(claim)
            self.files.notice(name)
            return
        faults.hit("before_move")
        self._file_away(claim, state, result.batch_id)

    def _seconds_until_retry(self, attempts: int) -> float:  # not money
        wait = self.settings.runner.retry_seconds * 2 ** (attempts - 1)
        return float(wait)  # not money: seconds

    def _settle_finished(self, claim: Claim, path: Path) -> None:
        """A finished claim's file is still here: move it if its worker is gone."""
        if claim.state == FAILED and claim.retry_at is not None:
            wait = (claim.retry_at - utcnow()).total_seconds()
            self._later(path.name, max(wait, 0.5))
            return
        if claim.moved_to is None and claim.orphaned():
            event(
                "file.orphaned",
                source=self.name,
                file=claim.file_key,
                state=claim.state,
                previous=claim.claimed_by,
            )
            self._file_away(claim, claim.state, claim.batch_id)
        # else: its worker is alive and about to move it

    def _file_away(self, claim: Claim, state: str, batch_id: int | None) -> None:
        """Move a finished file to processed/ or failed/, prefixed with its batch id."""
        src = self.folder / claim.file_key
        target = self.folder / (
            PROCESSED if state in (IMPORTED, DUPLICATE) else FAILED_DIR
        )
        prefix = str(batch_id) if batch_id is not None else f"claim{claim.id}"
        try:
            target.mkdir(exist_ok=True)
            dest = _free_name(target, f"{prefix}-{claim.file_key}")
            os.rename(src, dest)
        except FileNotFoundError:
            claims.let_go(claim)  # another worker moved it first
            return
        except OSError as exc:
            claims.let_go(claim)  # orphaned now: the next look tries again
            event(
                "file.move_failed",
                logging.ERROR,
                source=self.name,
                file=claim.file_key,
                error=str(exc),
            )
            self._later(claim.file_key, self.settings.runner.retry_seconds)
            return
        faults.hit("moved")
        try:
            claims.mark_moved(self.store, claim, str(dest))
        except StoreError as exc:
            claims.let_go(claim)
            self._warn("claim.failed", claim.file_key, exc)
        event("file.moved", source=self.name, file=claim.file_key, to=str(dest))

    def recover(self) -> None:
        """Look again at files whose claims were left by dead workers or are due a retry."""
        try:
            with self.store.read() as conn:
                stale = claims.open_claims(conn, self.name)
        except StoreError as exc:
            event("claim.failed", logging.WARNING, source=self.name, error=str(exc))
            return
        now = utcnow()
        for claim in stale:
            due = (
                claim.orphaned(now)
                if claim.state == claims.CLAIMED
                else claim.retry_at is not None and claim.retry_at <= now
            )
            if not due:
                continue
            if (self.folder / claim.file_key).is_file():
                self._retry_after.pop(claim.file_key, None)
                self.files.notice(claim.file_key)
                self.wake.set()
            elif claim.state == claims.CLAIMED:
                self._close_vanished(claim)

    def _close_vanished(self, claim: Claim) -> None:
        """An abandoned claim whose file is gone: imported before the crash, or removed."""
        with self.store.read() as conn:
            applied = find_applied_batch(conn, claim.signature)
        if applied is None:
            claims.drop_claim(self.store, claim, "the file is no longer in the folder")
            return
        got = claims.claim_file(
            self.store,
            self.name,
            claim.file_key,
            claim.signature,
            lease_seconds=self.settings.runner.lease_seconds,
        )
        if got.won:
            claims.finish_claim(self.store, got.claim, IMPORTED, batch_id=applied[0])
            claims.let_go(got.claim)


def _free_name(folder: Path, name: str) -> Path:
    """Return *folder*/*name*, or a numbered variant if that name is taken."""
    candidate = folder / name
    stem, dot, ext = name.partition(".")
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{dot}{ext}"
        n += 1
    return candidate
