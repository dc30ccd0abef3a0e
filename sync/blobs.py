"""Where stored files live: content-addressed under the data directory.

Original exports are kept by the pipeline (``sync.intake``); documents (invoice
originals, job sheets, receipts, contracts) are kept here, keyed by their SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sync.config import Settings
from sync.errors import SyncError


class BlobMissing(SyncError):
    """A stored file's bytes are gone."""


def documents_dir(settings: Settings) -> Path:
    """Return the folder documents are kept in."""
    return Path(settings.data_dir) / "documents"


def put_document(settings: Settings, data: bytes) -> tuple[str, str]:
    """Store *data*; return (sha256, storage key). Storing the same bytes twice is a no-op."""
    sha = hashlib.sha256(data).hexdigest()
    key = f"documents/{sha[:2]}/{sha}"
    path = Path(settings.data_dir) / key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, path)
    return sha, key


def read_blob(settings: Settings, storage_key: str) -> bytes:
    """Return the bytes stored under *storage_key* (a path inside the data directory)."""
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
