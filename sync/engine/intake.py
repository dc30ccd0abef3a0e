"""Intake: take a file into billfold's own storage, hashing it on the way.

The pipeline never parses the file a source handed over: it copies it into the data
directory under its sha256 (so a file changed or deleted later cannot change what was
imported), sniffing the encoding in the same single read. The stored copy is the
original kept "either way", whether the import applies or is rejected.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from adapters.text import HEAD_SIZE, Encoding, EncodingSniffer
from sync.errors import SyncError
from sync.store.permissions import private_dir

CHUNK = 1 << 20


class IntakeError(SyncError):
    """A file could not be read or stored."""


@dataclass(frozen=True, slots=True)
class Intake:
    """A file taken in: where billfold keeps it and what its bytes are."""

    name: str
    stored_path: Path
    sha256: str
    size: int
    encoding: Encoding
    head: bytes
    mtime: datetime


def originals_dir(data_dir: Path) -> Path:
    """Return where original export bytes are kept."""
    return data_dir / "originals"


def stored_path_for(data_dir: Path, sha256: str) -> Path:
    """Return the content-addressed path of a file with digest *sha256*."""
    return originals_dir(data_dir) / sha256[:2] / sha256


def display_name(name: str) -> str:
    """Return a file name safe to show and store: no directories, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:255] or "unnamed"


def hash_file(path: Path) -> tuple[str, int]:
    """Return the sha256 and size of the file at *path* (one read, nothing stored)."""
    with path.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256")
        return digest.hexdigest(), file.tell()


def take_in(path: Path, data_dir: Path, name: str | None = None) -> Intake:
    """Copy *path* into the data directory, returning its digest, size and encoding."""
    folder = originals_dir(data_dir)
    private_dir(folder)
    digest = hashlib.sha256()
    sniffer = EncodingSniffer()
    head = b""
    size = 0
    try:
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
        with (
            path.open("rb") as src,
            tempfile.NamedTemporaryFile(
                dir=folder, prefix=".incoming-", delete=False
            ) as tmp,
        ):
            try:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    sniffer.feed(chunk)
                    if len(head) < HEAD_SIZE:
                        head += chunk[: HEAD_SIZE - len(head)]
                    tmp.write(chunk)
                    size += len(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            except BaseException:
                tmp.close()
                Path(tmp.name).unlink(missing_ok=True)
                raise
    except OSError as exc:
        raise IntakeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    sha = digest.hexdigest()
    final = stored_path_for(data_dir, sha)
    private_dir(final.parent)
    if final.exists():
        Path(tmp.name).unlink(missing_ok=True)
    else:
        os.replace(tmp.name, final)
    return Intake(
        name=display_name(name or path.name),
        stored_path=final,
        sha256=sha,
        size=size,
        encoding=sniffer.result(),
        head=head,
        mtime=mtime,
    )
