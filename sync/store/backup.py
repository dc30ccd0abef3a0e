"""``billfold backup DEST``: everything a store is, copied into one new folder.

A backup folder holds:

* the database: SQLite through its online backup API (one consistent snapshot, taken
  while imports and the portal go on), or ``pg_dump --format=custom`` of billfold's
  schema on PostgreSQL (``database.pgdump``);
* the stored files, documents and export originals: copied from the data directory
  (``files/``), and with ``[storage] backend = "s3"`` every object under the bucket's
  ``documents/`` and ``originals/`` prefixes, downloaded (``s3/``): a backup needs
  nothing else to be restored, on another machine or into another bucket;
* the secret key (``secret_key``), so signed cookies and form tokens issued before the
  backup keep working after a restore;
* the configuration file, when there is one (``config.toml``; restore never applies it);
* ``manifest.json``, written last: a folder without it is not a finished backup.

The database is copied first and the files after it. A stored file is written before
the database row that names it commits, and never changes (it is named by its SHA-256),
so every file the snapshot names is in the backup.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from sync.config import Settings
from sync.errors import BackupError
from sync.store import Store
from sync.store.permissions import FILE_MODE, private_dir

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "billfold.db"
PG_FILE = "database.pgdump"
FILES = "files"  # stored files of the data directory
S3 = "s3"  # stored files of the [storage] bucket, by their key under its prefix
SECRET_KEY = "secret_key"  # noqa: S105 (the file's name, not a secret)
CONFIG = "config.toml"
BLOB_FOLDERS = ("documents", "originals")

Say = Callable[[str], None]


@dataclass
class Copied:
    """How many stored files (and bytes) a backup or restore copied, per place."""

    files: dict[str, int] = field(default_factory=dict)
    size: int = 0

    def add(self, where: str, size: int) -> None:
        self.files[where] = self.files.get(where, 0) + 1
        self.size += size


def make_backup(
    settings: Settings, store: Store, dest: Path, say: Say
) -> dict[str, Any]:
    """Back the store up into the new (or empty) folder *dest*; return its manifest."""
    from sync.store.migrate import current_revision

    revision = current_revision(store)
    if revision is None:
        raise BackupError(
            "the database holds no billfold store yet: there is nothing to back up"
        )
    _empty_destination(dest)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "billfold": _version(),
        "schema": revision,
        "data_dir": str(Path(settings.data_dir).resolve()),
    }
    if store.is_sqlite:
        _sqlite_snapshot(sqlite_path(store), dest / SQLITE_FILE)
        manifest["database"] = {"kind": "sqlite", "file": SQLITE_FILE}
    else:
        schema = _dump_postgres(store, dest / PG_FILE)
        manifest["database"] = {"kind": "postgresql", "file": PG_FILE, "schema": schema}
    say(f"database: {manifest['database']['kind']}, schema {revision}")

    copied = Copied()
    _copy_local_files(Path(settings.data_dir), dest / FILES, copied)
    storage = settings.storage
    manifest["storage"] = {
        "backend": storage.backend,
        "bucket": storage.bucket,
        "prefix": storage.prefix.strip("/"),
    }
    if storage.backend == "s3":
        _download_bucket(settings, dest / S3, copied)
    manifest["files"] = copied.files
    manifest["bytes"] = copied.size
    for where, count in sorted(copied.files.items()):
        say(f"{where}: {count} file(s)")

    key = current_secret_key(settings)
    if key:
        _write_private(dest / SECRET_KEY, key)
    manifest["secret_key"] = bool(key)
    say("secret key: kept" if key else "secret key: none yet (the portal never ran)")
    manifest["config"] = None
    if settings.config_path is not None and settings.config_path.is_file():
        shutil.copyfile(settings.config_path, dest / CONFIG)
        os.chmod(dest / CONFIG, FILE_MODE)
        manifest["config"] = CONFIG
        say(f"configuration: {settings.config_path}")
    _write_private(dest / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    say(f"backup complete: {dest}")
    return manifest


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("billfold")
    except PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown"


def _empty_destination(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(
            f"{dest} already exists and is not an empty folder; back up into a new "
            "folder (a backup never overwrites another)"
        )
    private_dir(dest)


def _write_private(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def current_secret_key(settings: Settings) -> str:
    """Return the portal's secret key: configured, or kept in the data directory."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / SECRET_KEY
    return path.read_text().strip() if path.is_file() else ""


# -- the database -------------------------------------------------------------------------


def sqlite_path(store: Store) -> Path:
    """Return the file of an SQLite store."""
    path = store.url.partition("///")[2].partition("?")[0]
    if not path or path == ":memory:":
        raise BackupError("an in-memory database cannot be backed up or restored")
    return Path(path)


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """Copy the database with SQLite's online backup API, in one step: one read
    transaction, so the copy is one consistent state while writers go on."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.close(fd)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the database {source}: {exc}") from exc
    finally:
        src.close()
    if check != "ok":
        raise BackupError(f"the copy of {source} failed its check: {check}")


def pg_connection(store: Store) -> tuple[str, dict[str, str]]:
    """Return a libpq URL for *store* (no password in it) and the environment
    that carries the password, for pg_dump and pg_restore."""
    url = make_url(store.url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_tool(name: str) -> str:
    """Return the path of a PostgreSQL client program, or say how to get it."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed, and a PostgreSQL store is backed up and restored "
            f"with it: install PostgreSQL's client programs (Debian and Ubuntu: "
            f"`apt-get install postgresql-client`) in the server's major version or "
            "newer, then run the command again"
        )
    return path


def run_pg_tool(args: list[str], env: dict[str, str], what: str) -> str:
    """Run a PostgreSQL client program; return its stdout or raise with its stderr."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise BackupError(f"{what} failed ({Path(args[0]).name}: {detail})")
    return done.stdout


def _dump_postgres(store: Store, target: Path) -> str:
    pg_dump = pg_tool("pg_dump")
    with store.engine.connect() as conn:
        schema: str = conn.execute(text("SELECT current_schema()")).scalar_one()
    url, env = pg_connection(store)
    quoted = '"' + schema.replace('"', '""') + '"'
    run_pg_tool(
        [pg_dump, "--format=custom", "--no-owner", "--no-privileges",
         f"--schema={quoted}", f"--file={target}", f"--dbname={url}"],
        env, "pg_dump of the database",
    )  # fmt: skip
    os.chmod(target, FILE_MODE)
    return str(schema)


# -- stored files -------------------------------------------------------------------------


def stored_files(root: Path) -> Iterator[tuple[str, Path]]:
    """Yield (path relative to *root*, file) for every stored file in its blob folders
    (temporary ``.incoming-`` files left by an interrupted copy are not stored files)."""
    for folder in BLOB_FOLDERS:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(root).as_posix(), path


def copy_private(source: Path, target: Path) -> int:
    """Copy one file, readable by its owner only; return its size."""
    private_dir(target.parent)
    shutil.copyfile(source, target)
    os.chmod(target, FILE_MODE)
    return target.stat().st_size


def _copy_local_files(data_dir: Path, dest: Path, copied: Copied) -> None:
    for relative, path in stored_files(data_dir):
        copied.add(relative.split("/", 1)[0], copy_private(path, dest / relative))


def bucket_prefix(prefix: str) -> str:
    """Return a storage prefix as keys start with it ("" or "a/b/")."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def _download_bucket(settings: Settings, dest: Path, copied: Copied) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from sync.store.s3_client import s3_client

    storage = settings.storage
    client = s3_client(storage.endpoint_url, storage.region)
    prefix = bucket_prefix(storage.prefix)
    try:
        for folder in BLOB_FOLDERS:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=storage.bucket, Prefix=f"{prefix}{folder}/"
            )
            for page in pages:
                for item in page.get("Contents", []):
                    relative = item["Key"][len(prefix) :]
                    if ".." in relative.split("/"):
                        continue  # not a key billfold wrote
                    target = dest / relative
                    private_dir(target.parent)
                    client.download_file(storage.bucket, item["Key"], str(target))
                    os.chmod(target, FILE_MODE)
                    copied.add(f"s3 {folder}", target.stat().st_size)
    except (BotoCoreError, ClientError) as exc:
        raise BackupError(
            f"cannot copy the stored files from s3://{storage.bucket}/{prefix}: {exc}"
        ) from exc
