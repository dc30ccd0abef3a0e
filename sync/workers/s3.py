"""S3 sources: a bucket listed under a prefix, each object imported once per (key, ETag).

Listing runs under the source's job lock (one worker lists) and records each new
object version as a listed claim; importing does not: every worker takes listed
objects one at a time (``retry_due``), so several workers import one bucket at once.
Objects are taken oldest (LastModified, then key) first, with their LastModified as the
export's as-of time (kept on the claim, so a takeover after a crash does the same). An
object is downloaded (that exact ETag) to a temp file in the data directory, checked
against its length, and only then handed to the pipeline; a cut or failed download is
retried a few times with backoff, then again later. The bucket is only read, never
written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from schemas.tables import utcnow
from sync import faults
from sync.errors import SourceError, StoreError
from sync.log import event
from sync.store.permissions import private_dir
from sync.workers import claims
from sync.workers.claims import FAILED
from sync.workers.folder import is_ignored
from sync.workers.sources import CHUNK, SourceWorker
from sync.workers.status import note_pending

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


ORDER_WAIT_SECONDS = 0.05  # not money
MAX_PASSES = 1000  # passes of one retry_due that start again after a give-back


def _as_object(claim: claims.Claim) -> S3Object:
    """The object a claim is for, as far as ordering goes."""
    return S3Object(claim.file_key, claim.signature, 0, claim.last_modified)


class _GiveBack(Exception):
    """An older object must be applied first: give this one back for now."""


class _Gone(Exception):
    """The object (that ETag of it) is no longer in the bucket."""


class S3Source(SourceWorker):
    """A polled bucket prefix: each (key, ETag) downloaded, checked and imported once."""

    def setup(self) -> None:
        self._client: Any = None  # built on first use
        self.gave_back = False  # the last take gave its object back (an older first)

    @property
    def client(self) -> Any:
        if self._client is None:
            from sync.store.s3_client import s3_client

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

    def list_new(self) -> int | None:
        """List the bucket and record every object version not imported yet as a
        listed claim (run under the source's job lock); return how many are waiting,
        or None when the bucket could not be listed."""
        try:
            found = list(self.objects())
            with self.store.read() as conn:
                done = claims.finished_keys(conn, self.name)
            todo = [o for o in found if (o.key, o.etag) not in done]
            claims.list_files(
                self.store,
                self.name,
                [(o.key, o.etag, o.size or None, o.last_modified) for o in todo],
            )
        except SourceError as exc:
            self.problems += 1
            event("source.error", logging.ERROR, source=self.name, error=str(exc))
            self._note(error=str(exc))
            return None
        except StoreError as exc:
            self._warn("claim.failed", self.source.prefix, exc)
            return None
        self._note(pending=len(todo))
        return len(todo)

    def poll(self) -> int:
        """List the bucket and import every object version not imported yet, oldest first."""
        if self.list_new() is None:
            return 0
        return self.retry_due()

    def retry_due(self) -> int:
        """Import what waits, oldest first: listed objects nobody holds, claims whose
        holder is gone, and objects whose download or import failed and are due.
        Several workers run this at once; each object goes to one of them. When an
        object had to be given back (an older one waits for a worker, or its holder
        died), the pass starts again from the oldest."""
        count = 0
        for _ in range(MAX_PASSES):
            todo = self._due()
            self.gave_back = False
            for index, obj in enumerate(todo):
                if self.stopping.is_set():
                    return count
                count += self.take(obj)
                with contextlib.suppress(StoreError):
                    note_pending(self.store, self.name, len(todo) - index - 1)
                if self.gave_back:
                    break
            if not self.gave_back:
                break
        return count

    def _due(self) -> list[S3Object]:
        """The objects waiting for a worker now, oldest first."""
        try:
            with self.store.read() as conn:
                stale = claims.open_claims(conn, self.name)
        except StoreError:
            return []
        now = utcnow()
        due = [
            _as_object(claim)
            for claim in stale
            if (
                claim.orphaned(now)
                if claim.state == claims.CLAIMED
                else claim.retry_at is not None and claim.retry_at <= now
            )
        ]
        return sorted(due, key=S3Object.oldest_first)

    def _older_applied(self, claim: claims.Claim) -> bool:
        """Wait until no older object of this source is held by another worker.

        Workers download, keep and parse at once but apply one source's objects oldest
        first: an older export is never applied after a newer one. False (give the
        claim back) when an older object waits for a worker, or its holder is gone, or
        the run stops: the caller takes the oldest first.
        """
        mine = _as_object(claim).oldest_first()
        while not self.stopping.is_set():
            with self.store.read() as conn:
                older = [
                    c
                    for c in claims.open_claims(conn, self.name)
                    if c.state == claims.CLAIMED
                    and c.id != claim.id
                    and _as_object(c).oldest_first() < mine
                ]
            if not older:
                return True
            if any(c.orphaned() for c in older):
                return False
            self.stopping.wait(ORDER_WAIT_SECONDS)
        return False

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
            self._warn("claim.failed", obj.key, exc)
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

            def in_order() -> None:  # kept and parsed: wait only to apply
                if not self._older_applied(claim):
                    raise _GiveBack

            try:
                self.import_claimed(
                    claim, path, obj.name, claim.last_modified, before_apply=in_order
                )
            except _GiveBack:
                claims.step_back(self.store, claim)
                self.gave_back = True
                return False
            finally:
                path.unlink(missing_ok=True)
        except StoreError as exc:  # the claim could not be written: its lease expires
            self._warn("claim.failed", obj.key, exc)
        finally:
            claims.let_go(claim)
        return True

    def download(self, obj: S3Object) -> Path:
        """Download exactly this ETag of the object to a temp file, retrying cut transfers."""
        from botocore.exceptions import BotoCoreError, ClientError

        from sync.store.s3_client import error_code

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
