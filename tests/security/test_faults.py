"""CONC rows: another program holding the database, a full disk, PostgreSQL restarting
mid-import, and why writers start with BEGIN IMMEDIATE. After each: the store is
consistent, nothing is half-applied, and the import can be retried."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from sync.store import Store
from tests.helpers import SAMPLE_LEDGER, count, run_import

sqlite_only = pytest.mark.sqlite_only  # deselected (not skipped) in the PostgreSQL leg


@sqlite_only
def test_conc03_a_database_held_by_another_program_fails_the_import_cleanly(
    store, settings
):
    path = settings.resolved_database_url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(30)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        impatient = Store(settings.resolved_database_url, busy_timeout_ms=500)
        result = run_import(impatient, settings, SAMPLE_LEDGER)
        assert result.status == "failed"
        assert "locked" in result.reason and "Try again" in result.reason
        impatient.dispose()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert count(store, "invoice") == 0
    retry = run_import(store, settings, SAMPLE_LEDGER)
    assert retry.status == "applied" and retry.created == 25
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


@sqlite_only
def test_conc02_deferred_read_then_write_fails_where_immediate_waits(tmp_path):
    db = tmp_path / "c.db"
    setup = sqlite3.connect(db, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (v INTEGER)")
    setup.close()
    a = sqlite3.connect(db, isolation_level=None, timeout=1)
    b = sqlite3.connect(db, isolation_level=None, timeout=1)
    a.execute("BEGIN")
    a.execute("SELECT count(*) FROM t").fetchone()
    b.execute("BEGIN")
    b.execute("SELECT count(*) FROM t").fetchone()
    a.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        b.execute("INSERT INTO t VALUES (2)")  # a deferred upgrade cannot wait its turn
    a.execute("COMMIT")
    b.execute("ROLLBACK")
    b.execute("BEGIN IMMEDIATE")  # billfold's writers take the lock before they read
    b.execute("INSERT INTO t VALUES (2)")
    b.execute("COMMIT")
    assert a.execute("SELECT count(*) FROM t").fetchone()[0] == 2


def _mount_tiny_filesystem(target: Path, size: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@sqlite_only
def test_conc05_a_full_disk_fails_the_import_and_the_retry_succeeds(
    settings, tmp_path, monkeypatch
):
    small = tmp_path / "small"
    mounted = _mount_tiny_filesystem(small, "3m")
    try:
        settings = replace(
            settings,
            data_dir=small / "data",
            database_url=f"sqlite:///{small / 'billfold.db'}",
        )
        from sync.store.migrate import upgrade

        store = Store(settings.resolved_database_url)
        upgrade(store)
        filler = small / "filler"
        if mounted:
            # Leave too little room for the import's write-ahead log.
            free = os.statvfs(small).f_bavail * os.statvfs(small).f_frsize
            filler.write_bytes(b"\0" * max(free - 40_000, 0))
        else:
            # No mount allowed here: inject ENOSPC at the point the import writes its copy.
            real_write = os.write

            def full(fd, data):  # type: ignore[no-untyped-def]
                raise OSError(errno.ENOSPC, "No space left on device")

            monkeypatch.setattr(os, "write", full)
        result = run_import(store, settings, SAMPLE_LEDGER)
        if not mounted:
            monkeypatch.setattr(os, "write", real_write)
        assert result.status in ("failed", "rejected")
        assert result.reason and (
            "space" in result.reason.lower() or "full" in result.reason.lower()
        )
        assert count(store, "invoice") == 0
        if mounted:
            filler.unlink()
        retry = run_import(store, settings, SAMPLE_LEDGER)
        assert retry.status == "applied" and retry.created == 25
        with store.read() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        store.dispose()
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(small)], check=False)


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.alone  # restarts the server every other test of the leg is using
def test_conc06_postgresql_restarted_mid_import(store, settings, monkeypatch):
    """The server restarts while an import is applying: it fails whole; the retry applies."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]

    def restart_then_continue() -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
            check=True,
            capture_output=True,
        )

    monkeypatch.setenv("BILLFOLD_FAULT", "before_commit:sleep=0")
    from sync import faults

    real_hit = faults.hit

    def hit(point: str) -> None:
        if point == "before_commit":
            restart_then_continue()
        real_hit(point)

    monkeypatch.setattr(faults, "hit", hit)
    result = run_import(store, settings, SAMPLE_LEDGER)
    assert result.status == "failed"
    monkeypatch.setattr(faults, "hit", real_hit)
    for _ in range(30):
        try:
            with store.read() as conn:
                conn.execute(text("SELECT 1"))
            break
        except Exception:
            time.sleep(1)
    store.engine.dispose()
    assert count(store, "invoice") == 0
    retry = run_import(store, settings, SAMPLE_LEDGER)
    assert retry.status == "applied" and retry.created == 25
