"""Files and folders only the user billfold runs as can read: the store, originals, keys.

The data directory holds the whole ledger (``billfold.db``), every export as it arrived
and the portal's secret key. billfold creates its folders ``0700`` and its files
``0600`` whatever the umask says. A folder that already exists keeps its mode (the
operator chose it); a database file that others can read is tightened when it is
opened, because the first release created it world-readable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

from sync.config import Settings
from sync.log import event

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path | str) -> Path:
    """Create *path* and any missing parents as ``0700`` folders; return it."""
    path = Path(path)
    missing = []
    node = path
    while not node.exists() and node != node.parent:
        missing.append(node)
        node = node.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another worker made it first
            continue
        os.chmod(folder, DIR_MODE)  # the umask may have cut mkdir's mode further
    return path


def private_file(path: Path | str) -> Path:
    """Make sure the file at *path* exists and only its owner may read or write it."""
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
    else:
        os.close(fd)
    return path


def tighten(path: Path | str) -> None:
    """Take every group and other permission away from an existing file."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
            event("file.permissions_tightened", logging.WARNING, path=str(path),
                  was=oct(mode), now=oct(mode & 0o700))  # fmt: skip
    except FileNotFoundError:
        return
    except PermissionError as exc:  # someone else's file: say so, keep going
        event("file.permissions_open", logging.WARNING, path=str(path), error=str(exc))


def secret_key(settings: Settings) -> str:
    """Return the configured secret, or one generated once and kept in the data dir.

    Several workers may start at once: the key is written to a temporary file and
    linked into place, so exactly one key wins and every worker reads the same one.
    """
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        os.unlink(tmp)
    return path.read_text().strip()
