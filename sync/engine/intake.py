"""Intake: take a file into billfold's own storage, sniffing its encoding on the way.

The pipeline never parses the file a source handed over: it copies it into the data
directory under its sha256 (so a file changed or deleted later cannot change what was
imported), sniffing the encoding in the same single read. The digest is taken once, by
``sync.store.blobs.fingerprint`` (the duplicate check needs it before anything is
copied), and travels: the copy is not hashed again unless the file changed in between. The stored copy is the
original kept "either way", whether the import applies or is rejected.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO

from adapters.toolkit.text import HEAD_SIZE, Encoding, EncodingSniffer
from sync.errors import SyncError
from sync.store.blobs import Fingerprint, original_path_for
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
    return original_path_for(data_dir, sha256)


def display_name(name: str) -> str:
    """Return a file name safe to show and store: no directories, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:255] or "unnamed"


def take_in(
    path: Path,
    data_dir: Path,
    name: str | None = None,
    known: Fingerprint | None = None,
) -> Intake:
    """Copy *path* into the data directory, returning its digest, size and encoding.

    With *known* (the file's fingerprint, read just before) the copy is not hashed
    again, unless the file changed since; bytes already kept are only read, for their
    encoding.
    """
    folder = originals_dir(data_dir)
    private_dir(folder)
    try:
        stat = path.stat()
        mtime = datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)
        if known is not None and known.signature != (stat.st_size, stat.st_mtime_ns):
            known = None
        final = stored_path_for(data_dir, known.sha256) if known else None
        if known is not None and final is not None and final.exists():
            with path.open("rb") as src:
                sha, size, sniffer, head = _copy(src, None, hashing=False)
            sha = known.sha256
        else:
            with (
                path.open("rb") as src,
                tempfile.NamedTemporaryFile(
                    dir=folder, prefix=".incoming-", delete=False
                ) as tmp,
            ):
                try:
                    sha, size, sniffer, head = _copy(src, tmp, hashing=known is None)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                except BaseException:
                    tmp.close()
                    Path(tmp.name).unlink(missing_ok=True)
                    raise
            if known is not None:
                if _changed(path, known, size):
                    # Written to while it was copied: the copy's own digest names it.
                    sha = _digest_of(Path(tmp.name))
                else:
                    sha = known.sha256
            final = stored_path_for(data_dir, sha)
            private_dir(final.parent)
            if final.exists():
                Path(tmp.name).unlink(missing_ok=True)
            else:
                os.replace(tmp.name, final)
    except OSError as exc:
        raise IntakeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return Intake(
        name=display_name(name or path.name),
        stored_path=final,
        sha256=sha,
        size=size,
        encoding=sniffer.result(),
        head=head,
        mtime=mtime,
    )


def _copy(
    src: BinaryIO, dst: IO[bytes] | None, *, hashing: bool
) -> tuple[str, int, EncodingSniffer, bytes]:
    """Read *src* to its end (writing it to *dst*), sniffing its encoding on the way."""
    digest = hashlib.sha256() if hashing else None
    sniffer = EncodingSniffer()
    head = b""
    size = 0
    while chunk := src.read(CHUNK):
        if digest is not None:
            digest.update(chunk)
        sniffer.feed(chunk)
        if len(head) < HEAD_SIZE:
            head += chunk[: HEAD_SIZE - len(head)]
        if dst is not None:
            dst.write(chunk)
        size += len(chunk)
    return (digest.hexdigest() if digest else ""), size, sniffer, head


def _changed(path: Path, known: Fingerprint, copied: int) -> bool:
    stat = path.stat()
    return copied != known.size or known.signature != (stat.st_size, stat.st_mtime_ns)


def _digest_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
