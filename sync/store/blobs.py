"""Where stored files live: content-addressed, in the data directory or an S3 bucket.

Documents (invoice originals, job sheets, receipts, contracts) are kept here, keyed by
their SHA-256: ``documents/ab/<sha256>`` under the data directory (the default), or the
same key under ``[storage]``'s bucket and prefix, recorded as
``s3://bucket/prefix/documents/…``. Export originals are copied into ``originals/ab/…``
of the data directory by the pipeline (``sync.engine.intake``, which parses that copy)
and kept here too (``keep_original``): with S3 storage they are uploaded under
``originals/`` of the bucket, so any node serves an original or publishes a staged
batch another node imported (``read_original``, ``original_file``). The
bytes are copied and hashed in one pass, so the stored copy is exactly what was hashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sync.config import Settings, StorageSettings
from sync.errors import SyncError
from sync.store.permissions import private_dir

CHUNK = 1 << 20
HEAD_BYTES = 64
FINGERPRINT_HEAD = 64 * 1024  # what detection reads (adapters.toolkit.text.HEAD_SIZE)
SHA256_NAME = re.compile(r"[0-9a-f]{64}")


class BlobMissing(SyncError):
    """A stored file's bytes are gone."""


@dataclass(frozen=True)
class StoredBlob:
    """A document's bytes, stored: digest, where, how big, and its first bytes."""

    sha256: str
    storage_key: str
    size: int
    head: bytes


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A file's digest, size and first bytes, from one read, before anything is copied.

    *signature* is its (size, mtime_ns) when it was read: a file that changed since
    (a writer still at it) is hashed again when it is copied (``take_in``).
    """

    sha256: str
    size: int
    head: bytes
    signature: tuple[int, int]


def fingerprint(path: Path) -> Fingerprint:
    """Hash the file at *path* and keep its first bytes (one read, nothing stored)."""
    with path.open("rb") as file:
        stat = os.fstat(file.fileno())
        head = file.read(FINGERPRINT_HEAD)
        digest = hashlib.sha256(head)
        size = len(head)
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Fingerprint(digest.hexdigest(), size, head, (stat.st_size, stat.st_mtime_ns))


def documents_dir(settings: Settings) -> Path:
    """Return the folder documents are kept in (local storage)."""
    return Path(settings.data_dir) / "documents"


def _relative_key(sha: str) -> str:
    return f"documents/{sha[:2]}/{sha}"


def _s3_key(storage: StorageSettings, sha: str) -> str:
    prefix = storage.prefix.strip("/")
    return f"{prefix}/{_relative_key(sha)}" if prefix else _relative_key(sha)


@contextlib.contextmanager
def _hashed_copy(
    src: IO[bytes], folder: Path, known: str | None = None
) -> Iterator[tuple[Path, str, int, bytes]]:
    """Copy *src* to a temp file in *folder*, hashing it unless its digest is *known*;
    the temp file is removed after."""
    private_dir(folder)
    digest = hashlib.sha256() if known is None else None
    size = 0
    head = b""
    with tempfile.NamedTemporaryFile(
        dir=folder, prefix=".incoming-", delete=False
    ) as tmp:
        path = Path(tmp.name)
        try:
            while chunk := src.read(CHUNK):
                if digest is not None:
                    digest.update(chunk)
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                tmp.write(chunk)
                size += len(chunk)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            tmp.close()
            path.unlink(missing_ok=True)
            raise
    try:
        yield path, known or digest.hexdigest(), size, head  # type: ignore[union-attr]  # digest is None only when the caller passed the known digest
    finally:
        path.unlink(missing_ok=True)


def _store(settings: Settings, src: IO[bytes], known: str | None = None) -> StoredBlob:
    storage = settings.storage
    if storage.backend == "s3":
        with _hashed_copy(src, Path(settings.data_dir) / "tmp", known) as (
            tmp,
            sha,
            size,
            head,
        ):
            key = _s3_key(storage, sha)
            client = _client(storage)
            if not _s3_exists(client, storage.bucket, key):
                client.upload_file(str(tmp), storage.bucket, key)
            return StoredBlob(sha, f"s3://{storage.bucket}/{key}", size, head)
    folder = documents_dir(settings)
    with _hashed_copy(src, folder, known) as (tmp, sha, size, head):
        key = _relative_key(sha)
        final = Path(settings.data_dir) / key
        if not final.exists():
            private_dir(final.parent)
            os.replace(tmp, final)
        return StoredBlob(sha, key, size, head)


def store_document_file(
    settings: Settings, path: Path, known: Fingerprint | None = None
) -> StoredBlob:
    """Copy the file at *path* into document storage.

    With *known* (its fingerprint, read just before) bytes already stored are not
    copied again, and the copy is not hashed again unless the file changed since.
    """
    if known is not None and known.signature != _signature(path):
        known = None
    if known is not None and settings.storage.backend != "s3":
        key = _relative_key(known.sha256)
        if (Path(settings.data_dir) / key).exists():
            return StoredBlob(known.sha256, key, known.size, known.head[:HEAD_BYTES])
    with path.open("rb") as src:
        stored = _store(settings, src, known.sha256 if known else None)
    if known is not None and (
        stored.size != known.size or known.signature != _signature(path)
    ):  # written to while it was copied: store what the file holds now, hashed
        with path.open("rb") as src:
            return _store(settings, src)
    return stored


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def put_document(settings: Settings, data: bytes) -> tuple[str, str]:
    """Store *data*; return (sha256, storage key). Storing the same bytes twice is a no-op."""
    stored = _store(settings, io.BytesIO(data))
    return stored.sha256, stored.storage_key


def read_blob(settings: Settings, storage_key: str) -> bytes:
    """Return the bytes stored under *storage_key* (data directory or ``s3://``)."""
    if storage_key.startswith("s3://"):
        return _read_s3(settings.storage, storage_key)
    base = Path(settings.data_dir).resolve()
    path = (base / storage_key).resolve()
    if base not in path.parents:
        raise BlobMissing(
            f"storage key {storage_key!r} points outside the data directory"
        )
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BlobMissing(f"stored file {storage_key} is missing from {base}") from exc


def original_path_for(data_dir: Path, sha256: str) -> Path:
    """Return where this node keeps (or caches) the original with digest *sha256*."""
    return Path(data_dir) / _original_key(sha256)


def _original_key(sha: str) -> str:
    return f"originals/{sha[:2]}/{sha}"


def _original_s3_key(storage: StorageSettings, sha: str) -> str:
    prefix = storage.prefix.strip("/")
    return f"{prefix}/{_original_key(sha)}" if prefix else _original_key(sha)


def keep_original(settings: Settings, local: Path, sha256: str) -> str:
    """Keep the original at *local* (already under ``originals/``) where every node
    finds it; return the batch's ``stored_path``.

    Local storage: the file stays where it is and its path is the answer. With
    ``[storage] backend = "s3"`` it is uploaded (once: the key is its SHA-256) and
    its ``s3://`` key is the answer; the local copy stays as this node's cache.
    """
    storage = settings.storage
    if storage.backend != "s3":
        return str(local)
    key = _original_s3_key(storage, sha256)
    client = _client(storage)
    if not _s3_exists(client, storage.bucket, key):
        client.upload_file(str(local), storage.bucket, key)
    return f"s3://{storage.bucket}/{key}"


def original_location(settings: Settings, sha256: str) -> str:
    """Return the ``stored_path`` of an original already kept (see ``keep_original``)."""
    storage = settings.storage
    if storage.backend != "s3":
        return str(original_path_for(settings.data_dir, sha256))
    return f"s3://{storage.bucket}/{_original_s3_key(storage, sha256)}"


def _sha_of_original(stored_path: str) -> str | None:
    """The digest a kept original is named by (its last path part), if it is one."""
    name = stored_path.rsplit("/", 1)[-1]
    return name if SHA256_NAME.fullmatch(name) else None


def _local_original(settings: Settings, stored_path: str) -> Path | None:
    """This node's copy of an original, if it has one (by path, else by digest)."""
    base = (Path(settings.data_dir) / "originals").resolve()
    if not stored_path.startswith("s3://"):
        path = Path(stored_path).resolve()
        if base in path.parents and path.is_file():
            return path
    sha = _sha_of_original(stored_path)
    if sha is None:
        return None
    path = original_path_for(settings.data_dir, sha)
    return path if path.is_file() else None


def read_original(settings: Settings, stored_path: str) -> bytes:
    """Return a batch's kept original, from whichever node or bucket holds it.

    *stored_path* is an ``s3://`` key (``[storage] backend = "s3"``) or a path under
    ``originals/`` of the data directory (local storage, and every original kept before
    originals went to the blob store). A path this node does not have is looked up by
    its digest: in this node's ``originals/``, then in the bucket. Raises BlobMissing
    when the path is not an original's or its bytes are nowhere, like ``read_blob``.
    """
    if stored_path.startswith("s3://"):
        local = _local_original(settings, stored_path)
        if local is not None:
            return local.read_bytes()
        return _read_s3(settings.storage, stored_path)
    sha = _sha_of_original(stored_path)
    local = _local_original(settings, stored_path)
    if local is not None:
        try:
            return local.read_bytes()
        except OSError as exc:
            raise BlobMissing(
                f"the original {stored_path} cannot be read: {exc}"
            ) from exc
    if sha is None or "/originals/" not in f"/{stored_path}":
        raise BlobMissing(f"{stored_path!r} is not a kept original")
    if settings.storage.backend == "s3":
        return _read_s3(settings.storage, original_location(settings, sha))
    raise BlobMissing(
        f"the original {stored_path} is not on this node; keep originals where every "
        'node reads them with [storage] backend = "s3"'
    )


def original_file(settings: Settings, stored_path: str) -> Path:
    """Return a local file holding a batch's kept original (fetched into this node's
    ``originals/`` when another node kept it), checked against its digest."""
    local = _local_original(settings, stored_path)
    if local is not None:
        return local
    data = read_original(settings, stored_path)
    sha = _sha_of_original(stored_path)
    if sha is None or hashlib.sha256(data).hexdigest() != sha:
        raise BlobMissing(
            f"the original {stored_path} does not hold the bytes it names"
        )
    final = original_path_for(settings.data_dir, sha)
    private_dir(final.parent)
    with _hashed_copy(io.BytesIO(data), final.parent, sha) as (tmp, _, _, _):
        os.replace(tmp, final)
    return final


def _client(storage: StorageSettings) -> Any:
    from sync.store.s3_client import s3_client

    return s3_client(storage.endpoint_url, storage.region)


def _s3_exists(client: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    from sync.store.s3_client import error_code

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _read_s3(storage: StorageSettings, storage_key: str) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    from sync.store.s3_client import error_code

    bucket, _, key = storage_key.removeprefix("s3://").partition("/")
    try:
        response = _client(storage).get_object(Bucket=bucket, Key=key)
        return response["Body"].read()
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            raise BlobMissing(f"stored file {storage_key} is missing") from exc
        raise BlobMissing(f"cannot read stored file {storage_key}: {exc}") from exc
    except BotoCoreError as exc:
        raise BlobMissing(f"cannot read stored file {storage_key}: {exc}") from exc


def check_writable(settings: Settings) -> None:
    """Write and remove a small probe where documents go; raise OSError (or the S3
    client's error) when the blob store cannot be written (``/readyz``)."""
    probe = f".billfold-ready-{os.getpid()}-{os.urandom(4).hex()}"
    storage = settings.storage
    if storage.backend == "s3":
        prefix = storage.prefix.strip("/")
        key = f"{prefix}/{probe}" if prefix else probe
        client = _client(storage)
        client.put_object(Bucket=storage.bucket, Key=key, Body=b"ready")
        client.delete_object(Bucket=storage.bucket, Key=key)
        return
    folder = documents_dir(settings)
    private_dir(folder)
    path = folder / probe
    path.write_bytes(b"ready")
    path.unlink()
