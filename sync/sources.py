"""Sources: watched folders and polled S3 buckets, each file claimed, then imported once.

Both kinds only find files and hand them to ``sync.pipeline.import_file``:

* **Folder**: a file is taken once its size and modification time have not changed for
  ``quiet_seconds`` (a moment is enough for a file renamed into the folder). Temporary
  and hidden names are ignored (``is_ignored``). After its import the file moves to
  ``processed/`` (applied, duplicate) or ``failed/`` (rejected, or failing after
  ``runner.max_attempts``), its name prefixed with the batch id; nothing is deleted or
  overwritten. A file whose import failed (the store was locked) stays and is retried.
  Files that settle together are taken oldest (modification time) first; a file's
  modification time is its export's as-of time.
* **S3**: the bucket is listed under ``prefix``; each object is imported once per
  (key, ETag), oldest (LastModified, then key) first, with its LastModified as the
  export's as-of time (kept on the claim, so a takeover after a crash does the same).
  It is downloaded (that exact ETag) to a temp file in the data directory, checked
  against its length, and only then handed to the pipeline; a cut or failed download
  is retried a few times with backoff, then again later. The bucket is only read,
  never written.

Exactly once across workers comes from ``sync.claims``: a file is claimed in the
database before anything is imported, and a worker that loses the claim skips it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from schemas.tables import utcnow
from sync import claims, faults
from sync.claims import DUPLICATE, FAILED, IMPORTED, REJECTED, Claim
from sync.config import Settings, SourceSettings
from sync.errors import SourceError, StoreError
from sync.log import event
from sync.permissions import private_dir
from sync.pipeline import ImportResult, find_applied_batch, import_file
from sync.status import note_pending, note_poll
from sync.store import Store

CHUNK = 1 << 20
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


class _Context:
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

    @property
    def name(self) -> str:
        return self.source.name

    def retry_at(self, attempts: int) -> datetime | None:
        """When a failed file is next tried (None: given up after max_attempts)."""
        runner = self.settings.runner
        if attempts >= runner.max_attempts:
            return None
        return utcnow() + timedelta(seconds=runner.retry_seconds * 2 ** (attempts - 1))

    def import_claimed(
        self, claim: Claim, path: Path, name: str, as_of: datetime | None = None
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
            self.store, self.settings, path, source=self.name, name=name, as_of=as_of
        )
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


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class FolderSource(_Context):
    """A watched folder: settles, claims, imports and files away each export dropped in."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: SourceSettings,
        stopping: threading.Event,
    ) -> None:
        super().__init__(settings, store, source, stopping)
        self.folder = Path(source.path)
        self.files = StableFiles(source.quiet_seconds)
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

    def _note(self, *, error: str | None = None, pending: int | None = None) -> None:
        try:
            note_poll(self.store, self.name, error=error, pending=pending)
        except StoreError as exc:
            event(
                "status.write_failed", logging.WARNING, source=self.name, error=str(exc)
            )

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

    def next_retry_in(self) -> float | None:  # not money
        """Seconds until the next failed file is due again, if any."""
        if not self._retry_after:
            return None
        return max(0.0, min(self._retry_after.values()) - time.monotonic())

    def _later(self, name: str, seconds: float) -> None:  # not money
        self._retry_after[name] = time.monotonic() + seconds

    def take(self, name: str) -> None:
        """Claim, import and file away one settled file (or leave it to its holder)."""
        path = self.folder / name
        try:
            before = _stat_signature(path)
            signature, size = _hash_file(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            event(
                "file.unreadable",
                logging.WARNING,
                source=self.name,
                file=name,
                error=str(exc),
            )
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
            event(
                "claim.failed",
                logging.WARNING,
                source=self.name,
                file=name,
                error=str(exc),
            )
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
            result, kept = self.import_claimed(claim, path, name)
        except StoreError as exc:  # the claim could not be written: it expires
            event(
                "claim.failed",
                logging.WARNING,
                source=self.name,
                file=name,
                error=str(exc),
            )
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
            event(
                "claim.failed",
                logging.WARNING,
                source=self.name,
                file=claim.file_key,
                error=str(exc),
            )
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


# -- S3 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Object:
    """An object as listed: key, ETag (without quotes), size and LastModified (naive UTC)."""

    key: str
    etag: str
    size: int
    last_modified: datetime | None = None

    def oldest_first(self) -> tuple[Any, ...]:
        """Sort key: LastModified (unknown last), then key."""
        if self.last_modified is None:
            return (1, self.key)
        return (0, self.last_modified, self.key)

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name


class _Gone(Exception):
    """The object (that ETag of it) is no longer in the bucket."""


class S3Source(_Context):
    """A polled bucket prefix: each (key, ETag) downloaded, checked and imported once."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: SourceSettings,
        stopping: threading.Event,
        client: Any = None,
    ) -> None:
        super().__init__(settings, store, source, stopping)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from sync.s3 import s3_client

            self._client = s3_client(self.source.endpoint_url, self.source.region)
        return self._client

    def objects(self) -> Iterator[S3Object]:
        """List the objects under the prefix (temp names and folders left out)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.source.bucket, Prefix=self.source.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    modified = item["LastModified"].astimezone(UTC).replace(tzinfo=None)
                    obj = S3Object(
                        item["Key"], item["ETag"].strip('"'), item["Size"], modified
                    )
                    if obj.key.endswith("/") or is_ignored(obj.name):
                        continue
                    yield obj
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(
                f"cannot list s3://{self.source.bucket}/{self.source.prefix}: {exc}"
            ) from exc

    def poll(self) -> int:
        """List the bucket and import every object version not imported yet, oldest first."""
        try:
            found = list(self.objects())
            with self.store.read() as conn:
                done = claims.finished_keys(conn, self.name)
        except SourceError as exc:
            self.problems += 1
            event("source.error", logging.ERROR, source=self.name, error=str(exc))
            self._note(error=str(exc))
            return 0
        todo = sorted(
            (o for o in found if (o.key, o.etag) not in done), key=S3Object.oldest_first
        )
        self._note(pending=len(todo))
        taken = 0
        for index, obj in enumerate(todo):
            if self.stopping.is_set():
                break
            taken += self.take(obj)
            with contextlib.suppress(StoreError):
                note_pending(self.store, self.name, len(todo) - index - 1)
        return taken

    def _note(self, *, error: str | None = None, pending: int | None = None) -> None:
        try:
            note_poll(self.store, self.name, error=error, pending=pending)
        except StoreError as exc:
            event(
                "status.write_failed", logging.WARNING, source=self.name, error=str(exc)
            )

    def retry_due(self) -> int:
        """Try again the objects whose download or import failed and are due."""
        try:
            with self.store.read() as conn:
                stale = claims.open_claims(conn, self.name)
        except StoreError:
            return 0
        now = utcnow()
        due = [
            S3Object(claim.file_key, claim.signature, 0, claim.last_modified)
            for claim in stale
            if (
                claim.orphaned(now)
                if claim.state == claims.CLAIMED
                else claim.retry_at is not None and claim.retry_at <= now
            )
        ]
        count = 0
        for obj in sorted(due, key=S3Object.oldest_first):
            if self.stopping.is_set():
                break
            count += self.take(obj)
        return count

    def take(self, obj: S3Object) -> bool:
        """Claim one object version, download it, import it; False if not ours to take."""
        try:
            got = claims.claim_file(
                self.store,
                self.name,
                obj.key,
                obj.etag,
                lease_seconds=self.settings.runner.lease_seconds,
                size=obj.size or None,
                last_modified=obj.last_modified,
            )
        except StoreError as exc:
            event(
                "claim.failed",
                logging.WARNING,
                source=self.name,
                file=obj.key,
                error=str(exc),
            )
            return False
        if not got.won:
            return False
        claim = got.claim
        faults.hit("claimed")
        try:
            try:
                path = self.download(obj)
            except _Gone:
                claims.drop_claim(
                    self.store,
                    claim,
                    "the object changed or was deleted before download",
                )
                return False
            except SourceError as exc:
                self.problems += 1
                retry = self.retry_at(claim.attempts)
                claims.finish_claim(
                    self.store,
                    claim,
                    FAILED,
                    batch_id=None,
                    error=str(exc),
                    retry_at=retry,
                )
                event(
                    "file.download_failed",
                    logging.ERROR,
                    source=self.name,
                    file=obj.key,
                    error=str(exc),
                    retry_at=retry,
                )
                return True
            try:
                self.import_claimed(claim, path, obj.name, claim.last_modified)
            finally:
                path.unlink(missing_ok=True)
        except StoreError as exc:  # the claim could not be written: its lease expires
            event(
                "claim.failed",
                logging.WARNING,
                source=self.name,
                file=obj.key,
                error=str(exc),
            )
        finally:
            claims.let_go(claim)
        return True

    def download(self, obj: S3Object) -> Path:
        """Download exactly this ETag of the object to a temp file, retrying cut transfers."""
        from botocore.exceptions import BotoCoreError, ClientError

        from sync.s3 import error_code

        runner = self.settings.runner
        folder = Path(self.settings.data_dir) / "tmp"
        private_dir(folder)
        last: Exception | None = None
        for attempt in range(1, runner.download_attempts + 1):
            fd, name = tempfile.mkstemp(dir=folder, prefix=".s3-", suffix=".part")
            path = Path(name)
            out = os.fdopen(fd, "wb")
            try:
                response = self.client.get_object(
                    Bucket=self.source.bucket, Key=obj.key, IfMatch=f'"{obj.etag}"'
                )
                expected = int(response["ContentLength"])
                received = 0
                with out:
                    for chunk in response["Body"].iter_chunks(CHUNK):
                        out.write(chunk)
                        received += len(chunk)
                        faults.hit("download_chunk")
                    out.flush()
                    os.fsync(out.fileno())
                if received != expected:
                    raise SourceError(f"received {received} of {expected} bytes")
                return path
            except ClientError as exc:
                out.close()
                path.unlink(missing_ok=True)
                if error_code(exc) in ("NoSuchKey", "404", "PreconditionFailed", "412"):
                    raise _Gone from exc
                last = exc
            except (BotoCoreError, SourceError, OSError) as exc:
                out.close()
                path.unlink(missing_ok=True)
                last = exc
            except BaseException:
                out.close()
                path.unlink(missing_ok=True)
                raise
            event(
                "s3.download_retry",
                logging.WARNING,
                source=self.name,
                file=obj.key,
                attempt=attempt,
                error=str(last),
            )
            if attempt < runner.download_attempts and self.stopping.wait(
                runner.download_backoff_seconds * 2 ** (attempt - 1)
            ):
                break
        raise SourceError(
            f"download of s3://{self.source.bucket}/{obj.key} failed after "
            f"{runner.download_attempts} attempt(s): {last}"
        )
