"""The install's secret key: configured, or generated once and kept in the data dir.

The portal signs cookies with it; API sources derive the key that encrypts their
tokens at rest from it (``sync.pulls.tokens``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from sync.config import Settings
from sync.store.permissions import private_dir


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
