"""``billfold db upgrade`` is safe from several nodes at once: on a new database, N
processes started together all succeed, exactly one migrates and the others find the
schema current (PostgreSQL: an advisory lock; SQLite: its write lock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sync.store import Store
from sync.store.migrate import current_revision, head_revision
from tests.databases import fresh_schema
from tests.workers import wait_until, worker_env

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = 4
# `billfold db upgrade`, held at the start line until every process has imported
# billfold, so that their migrations overlap instead of running one after another.
AT_THE_START_LINE = """
import pathlib, sys, time
from sync.cli import main
go, ready = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.005)
main(["db", "upgrade"])
"""


@pytest.mark.slow
def test_concurrent_upgrades_of_a_new_database_all_succeed_and_one_migrates(tmp_path):
    with fresh_schema(tmp_path / "db") as url:
        go = tmp_path / "go"
        env = worker_env(
            {"BILLFOLD_DATABASE_URL": url, "BILLFOLD_DATA_DIR": str(tmp_path / "data")}
        )
        outs = [tmp_path / f"out-{i}.txt" for i in range(PROCESSES)]
        ready = [tmp_path / f"ready-{i}" for i in range(PROCESSES)]
        procs = []
        for out, flag in zip(outs, ready, strict=True):
            with out.open("wb") as fh:
                command = [sys.executable, "-c", AT_THE_START_LINE, str(go), str(flag)]
                procs.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT
                    )
                )
        wait_until(lambda: all(f.exists() for f in ready), 120, "every process ready")
        go.touch()
        codes = [p.wait(180) for p in procs]
        outputs = [out.read_text() for out in outs]
        assert codes == [0] * PROCESSES, outputs
        head = head_revision()
        migrated = [
            o for o in outputs if f"database migrated from empty to {head}" in o
        ]
        current = [
            o for o in outputs if f"database is up to date (revision {head})" in o
        ]
        assert (len(migrated), len(current)) == (1, PROCESSES - 1), outputs
        store = Store(url)
        assert current_revision(store) == head
        store.dispose()
