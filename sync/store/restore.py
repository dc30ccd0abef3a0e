"""``billfold restore SRC``: a backup (``sync.store.backup``) back into an empty store.

Only into an empty store: a database whose tables hold no rows (or that has none yet),
so that a restore never loses anything. Runtime tables that workers refill by
themselves (Alembic's revision, the scheduler's jobs, job locks) do not count.

In order: the backup is checked (finished, of a schema this billfold knows, the same
kind of database and storage); the stored files are copied into the data directory, or
uploaded to the ``[storage]`` bucket, each checked against the SHA-256 its name is
(files already there are left: a name is its content); then the database is restored
(SQLite's backup API; ``pg_restore`` in one transaction). Stored paths and keys that
named the old data directory or bucket are pointed at the new ones, the schema is
migrated when the backup is older than this billfold, and the secret key is put back,
so that signed cookies and form tokens issued before the backup still work.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import String, func, inspect, literal, text, update

from schemas.tables import DOCUMENTS, IMPORT_BATCHES
from sync.config import Settings
from sync.errors import BackupError
from sync.store import Store
from sync.store.backup import (
    CONFIG,
    FILES,
    FORMAT,
    MANIFEST,
    S3,
    SECRET_KEY,
    Copied,
    Say,
    bucket_prefix,
    copy_private,
    pg_connection,
    pg_tool,
    run_pg_tool,
    sqlite_path,
    stored_files,
)
from sync.store.permissions import FILE_MODE, private_dir

RUNTIME_TABLES = frozenset({"alembic_version", "scheduler_job", "job_lock"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SCHEMA_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:SCHEMA - |COMMENT - SCHEMA )")


def restore_backup(settings: Settings, store: Store, src: Path, say: Say) -> None:
    """Restore the backup in *src* into *store* and the configured storage."""
    manifest = read_manifest(src)
    _check_fits(manifest, store, settings)
    tables = tables_with_rows(store)
    if tables:
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")  # fmt: skip
        raise BackupError(
            f"the store is not empty (rows in {shown}): billfold restores only into an "
            "empty store, so that nothing in it is lost. Point database_url (and "
            "data_dir) at a new database and folder, then restore again"
        )
    copied = Copied()
    _restore_local_files(src / FILES, Path(settings.data_dir), copied)
    if manifest["storage"]["backend"] == "s3":
        _upload_to_bucket(settings, src / S3, copied)
    for where, count in sorted(copied.files.items()):
        say(f"{where}: {count} file(s) restored")

    database = manifest["database"]
    store.dispose()
    if database["kind"] == "sqlite":
        _restore_sqlite(src / database["file"], sqlite_path(store))
    else:
        _restore_postgres(store, src / database["file"], database["schema"])
    store.dispose()
    say(f"database: {database['kind']}, schema {manifest['schema']}")
    _repoint(store, manifest, settings)

    from sync.store.migrate import head_revision, upgrade

    if manifest["schema"] != head_revision():
        before, after = upgrade(store)
        say(f"database migrated from {before} to {after}")
    _restore_secret_key(src, settings, say)
    if manifest.get("config"):
        say(
            f"configuration: the backup's is {src / CONFIG}; restore does not change "
            "yours: compare the two"
        )
    say(f"restore complete from {src}")


def read_manifest(src: Path) -> dict[str, Any]:
    """Return a finished backup's manifest, or say what is wrong with the folder."""
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{src} is not a finished billfold backup (it has no {MANIFEST}; a backup "
            "writes it last)"
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(
            f"{path} is not a backup this billfold can restore (format "
            f"{manifest.get('format') if isinstance(manifest, dict) else '?'}, "
            f"expected {FORMAT})"
        )
    return manifest


def _check_fits(manifest: dict[str, Any], store: Store, settings: Settings) -> None:
    from sync.store.migrate import head_revision, known_revision

    kind = manifest["database"]["kind"]
    if kind != store.dialect:
        raise BackupError(
            f"the backup holds a {kind} database and this store is {store.dialect}: "
            f"set database_url to a {kind} database to restore it"
        )
    if not known_revision(manifest["schema"]):
        raise BackupError(
            f"the backup's schema {manifest['schema']} is newer than this billfold's "
            f"({head_revision()}): restore it with the billfold release that made it "
            f"({manifest.get('billfold', 'unknown')})"
        )
    if manifest["storage"]["backend"] == "s3" and settings.storage.backend != "s3":
        raise BackupError(
            "the backup's documents were kept in S3 (bucket "
            f'{manifest["storage"]["bucket"]}): set [storage] backend = "s3" and a '
            "bucket (the same or another) before restoring"
        )
    if kind == "postgresql":
        with store.engine.connect() as conn:
            schema = target_schema(conn)
        if schema != manifest["database"]["schema"]:
            raise BackupError(
                f"the backup is of PostgreSQL schema {manifest['database']['schema']!r} "
                f"and this store's schema is {schema!r}: restore into a database whose "
                "search_path names the backup's schema (pg_restore keeps schema names)"
            )


def target_schema(conn: Any) -> str:
    """Return the schema a PostgreSQL connection's tables go to (created or not)."""
    current = conn.execute(text("SELECT current_schema()")).scalar()
    if current:
        return str(current)
    path = conn.execute(text("SELECT current_setting('search_path')")).scalar_one()
    for entry in str(path).split(","):
        name = entry.strip().strip('"')
        if name and name != "$user":
            return name
    return "public"


def tables_with_rows(store: Store) -> list[str]:
    """Return the store's tables that hold rows (runtime tables left out)."""
    with store.engine.connect() as conn:
        if (
            store.dialect == "postgresql"
            and not conn.execute(text("SELECT current_schema()")).scalar()
        ):
            return []  # the schema does not exist yet: nothing in it
        names = sorted(set(inspect(conn).get_table_names()) - RUNTIME_TABLES)
        preparer = conn.dialect.identifier_preparer
        return [
            name
            for name in names
            if conn.execute(
                text(f"SELECT 1 FROM {preparer.quote(name)} LIMIT 1")  # noqa: S608
            ).first()
        ]


# -- stored files -------------------------------------------------------------------------


def _verified(relative: str, path: Path) -> None:
    """Check a content-addressed file against the digest its name is."""
    name = relative.rsplit("/", 1)[-1]
    if not _SHA256.fullmatch(name):
        return
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != name:
        raise BackupError(
            f"the backup's file {relative} is damaged: its bytes do not match its name "
            "(their SHA-256); restore from another backup"
        )


def _restore_local_files(source: Path, data_dir: Path, copied: Copied) -> None:
    for relative, path in stored_files(source):
        target = data_dir / relative
        if target.exists():
            continue  # the same name is the same content
        _verified(relative, path)
        private_dir(target.parent)
        tmp = target.with_name(f".incoming-{target.name}")
        copy_private(path, tmp)
        os.replace(tmp, target)
        copied.add(relative.split("/", 1)[0], target.stat().st_size)


def _upload_to_bucket(settings: Settings, source: Path, copied: Copied) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from sync.store.blobs import _s3_exists
    from sync.store.s3_client import s3_client

    storage = settings.storage
    client = s3_client(storage.endpoint_url, storage.region)
    prefix = bucket_prefix(storage.prefix)
    try:
        for relative, path in stored_files(source):
            key = prefix + relative
            if _s3_exists(client, storage.bucket, key):
                continue
            _verified(relative, path)
            client.upload_file(str(path), storage.bucket, key)
            copied.add(f"s3 {relative.split('/', 1)[0]}", path.stat().st_size)
    except (BotoCoreError, ClientError) as exc:
        raise BackupError(
            f"cannot upload the stored files to s3://{storage.bucket}/{prefix}: {exc}"
        ) from exc


# -- the database -------------------------------------------------------------------------


def _restore_sqlite(backup_file: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot restore the database into {target}: {exc}") from exc
    finally:
        src.close()
    os.chmod(target, FILE_MODE)


def _restore_postgres(store: Store, dump: Path, schema: str) -> None:
    pg_restore = pg_tool("pg_restore")
    url, env = pg_connection(store)
    listing = run_pg_tool(
        [pg_restore, "--list", str(dump)], env, "reading the backup's database"
    )
    with store.engine.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        ).first()
    if exists:  # keep the schema (and what else lives in it); restore its tables
        listing = "\n".join(
            line for line in listing.splitlines() if not _SCHEMA_ENTRY.match(line)
        )
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
        fh.write(listing + "\n")
    try:
        run_pg_tool(
            [pg_restore, "--no-owner", "--no-privileges", "--clean", "--if-exists",
             "--single-transaction", f"--use-list={fh.name}", f"--dbname={url}",
             str(dump)],
            env, "pg_restore of the database",
        )  # fmt: skip
    finally:
        os.unlink(fh.name)


def _repoint(store: Store, manifest: dict[str, Any], settings: Settings) -> None:
    """Point stored paths and keys that named the backup's data directory or bucket at
    this store's (originals are kept by absolute path, documents by s3:// key)."""
    moves = [(manifest["data_dir"].rstrip("/") + "/", f"{Path(settings.data_dir).resolve()}/")]  # fmt: skip
    old = manifest["storage"]
    if old["backend"] == "s3":
        moves.append(
            (
                f"s3://{old['bucket']}/{bucket_prefix(old['prefix'])}",
                f"s3://{settings.storage.bucket}/{bucket_prefix(settings.storage.prefix)}",
            )
        )
    with store.write(ledger=False) as conn:
        for before, after in moves:
            if before == after:
                continue
            for table, name in (
                (IMPORT_BATCHES, "stored_path"),
                (DOCUMENTS, "storage_key"),
            ):
                column = table.c[name]
                conn.execute(
                    update(table)
                    .where(column.startswith(before, autoescape=True))
                    .values(
                        {
                            name: literal(after, String)
                            + func.substr(column, len(before) + 1, type_=String)
                        }
                    )
                )


def _restore_secret_key(src: Path, settings: Settings, say: Say) -> None:
    path = src / SECRET_KEY
    if not path.is_file():
        return
    key = path.read_text().strip()
    if settings.secret_key:
        if settings.secret_key != key:
            say(
                "secret key: the configuration sets another one, and it wins: forms "
                "and signed cookies from before the backup are refused (sessions "
                "still work); remove secret_key from the configuration to use the "
                "backup's"
            )
        return
    target = Path(settings.data_dir) / SECRET_KEY
    private_dir(target.parent)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".secret-")
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, target)
    say("secret key: restored")
