"""`billfold run` as real processes: two workers, graceful stop, and kill -9 at random points."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from schemas.tables import FILE_CLAIMS, IMPORT_BATCHES
from tests.helpers import count, header_without_lines, invoice_row, write_csv
from tests.workers import Worker, slow_write, wait_until, write_config

B = IMPORT_BATCHES
C = FILE_CLAIMS


def export_bytes(tmp_path, *numbers) -> bytes:
    path = tmp_path / "staging" / f"{numbers[0]}.csv"
    path.parent.mkdir(exist_ok=True)
    rows = [invoice_row(n, f"Customer {n[-1]}", "120.00") for n in numbers]
    return write_csv(path, header_without_lines(), rows).read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def applied_per_sha(store) -> Counter:
    with store.read() as conn:
        return Counter(
            conn.execute(select(B.c.sha256).where(B.c.status == "applied")).scalars()
        )


def statuses(store) -> Counter:
    with store.read() as conn:
        return Counter(conn.execute(select(B.c.status)).scalars())


def sqlite_integrity(store) -> str:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA integrity_check").scalar()


def open_claims(store) -> int:
    with store.read() as conn:
        return conn.execute(
            select(func.count()).where(C.c.state.not_in(("imported", "duplicate")))
        ).scalar_one()


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def _config(tmp_path, settings, inbox, bucket=None, quiet=1.0, **runner):
    sources = [
        {
            "name": "inbox",
            "kind": "folder",
            "path": str(inbox),
            "quiet_seconds": quiet,
            "schedule": "every 1 second",
        }
    ]
    if bucket is not None:
        sources.append(
            {
                "name": "bucket",
                "kind": "s3",
                "bucket": bucket.name,
                "prefix": "in/",
                "endpoint_url": bucket.endpoint,
                "region": "us-east-1",
                "schedule": "every 1 second",
            }
        )
    return write_config(
        tmp_path / "config.toml",
        settings,
        sources,
        runner={
            "housekeeping": "every 2 seconds",
            "retry_seconds": 1,
            "download_backoff_seconds": 0.1,
            **runner,
        },
    )


@pytest.mark.slow  # real worker processes and waits: seconds each
def test_two_workers_on_one_inbox_and_one_bucket_import_each_file_once(
    store, settings, tmp_path, inbox, bucket
):
    config = _config(tmp_path, settings, inbox, bucket)
    outside = tmp_path / "outside"
    outside.mkdir()
    files: dict[str, bytes] = {}
    with (
        Worker(config, log=tmp_path / "a.log") as a,
        Worker(config, log=tmp_path / "b.log") as b,
    ):
        a.wait_for_log("event=run.started")
        b.wait_for_log("event=run.started")
        for i in range(12):
            name = f"drop-{i:02d}.csv"
            data = files[name] = export_bytes(tmp_path, f"10{i:02d}", f"11{i:02d}")
            if i % 4 == 0:
                (outside / name).write_bytes(data)
                subprocess.run(["cp", str(outside / name), str(inbox)], check=True)
            elif i % 4 == 1:
                (outside / name).write_bytes(data)
                subprocess.run(["mv", str(outside / name), str(inbox)], check=True)
            elif i % 4 == 2:
                (inbox / f"{name}.tmp").write_bytes(data)
                os.rename(inbox / f"{name}.tmp", inbox / name)
            else:
                slow_write(inbox / name, data, chunks=3, pause=0.3)
        for i in range(8):
            key = f"in/object-{i}.csv"
            data = files[key] = export_bytes(tmp_path, f"20{i:02d}")
            bucket.put(key, data)
        wait_until(
            lambda: count(store, "import_batch", "status = 'applied'") >= len(files),
            120,
            "every file imported",
        )
        wait_until(lambda: os.listdir(inbox) == ["processed"], 120, "an empty inbox")
        assert a.stop() == 0, a.log()
        assert b.stop() == 0, b.log()

    assert applied_per_sha(store) == Counter({sha(d): 1 for d in files.values()})
    assert statuses(store) == Counter(
        {"applied": len(files)}
    )  # nobody even tried twice
    assert count(store, "invoice") == 12 * 2 + 8  # no duplicate ledger rows
    assert open_claims(store) == 0
    with store.read() as conn:
        workers = set(conn.execute(select(C.c.claimed_by)).scalars())
    assert workers <= {f"{socket.gethostname()}:{w.pid}" for w in (a, b)}
    assert len(os.listdir(inbox / "processed")) == 12
    assert all(
        k.startswith("in/") for k in bucket.list_keys()
    )  # the bucket was only read


@pytest.mark.slow  # real worker processes and waits: seconds each
def test_sigterm_during_an_import_finishes_it_and_exits_0(
    store, settings, tmp_path, inbox
):
    config = _config(tmp_path, settings, inbox, quiet=0.3)
    data = export_bytes(tmp_path, "3001", "3002")
    with Worker(
        config, log=tmp_path / "w.log", env={"BILLFOLD_FAULT": "before_commit:sleep=3"}
    ) as worker:
        worker.wait_for_log("event=run.started")
        (inbox / "a.csv").write_bytes(data)
        # Inside the import's transaction: it pauses before its commit.
        worker.wait_for_log("event=fault.injected point=before_commit")

        assert worker.stop() == 0, worker.log()

    log = worker.log()
    assert "event=run.stopping signal=SIGTERM" in log and "event=run.stopped" in log
    assert applied_per_sha(store) == Counter({sha(data): 1})
    assert count(store, "invoice") == 2
    assert [p.split("-", 1)[1] for p in os.listdir(inbox / "processed")] == ["a.csv"]
    assert open_claims(store) == 0


@pytest.mark.slow  # real worker processes and waits: seconds each
def test_a_second_signal_abandons_the_import_which_rolls_back_and_is_redone(
    store, settings, tmp_path, inbox
):
    config = _config(tmp_path, settings, inbox, quiet=0.3)
    data = export_bytes(tmp_path, "3101")
    with Worker(
        config, log=tmp_path / "w.log", env={"BILLFOLD_FAULT": "before_commit:sleep=60"}
    ) as worker:
        worker.wait_for_log("event=run.started")
        (inbox / "a.csv").write_bytes(data)
        worker.wait_for_log("event=fault.injected point=before_commit")
        worker.signal(signal.SIGTERM)
        worker.wait_for_log("event=run.stopping")
        worker.signal(signal.SIGINT)

        assert worker.wait(120) == 1, worker.log()

    assert statuses(store) == Counter()  # rolled back: no batch at all
    assert count(store, "invoice") == 0
    assert (inbox / "a.csv").exists()
    if store.is_sqlite:
        assert sqlite_integrity(store) == "ok"

    with Worker(config, log=tmp_path / "again.log") as again:
        wait_until(lambda: not (inbox / "a.csv").exists(), 120, "the file to be taken")
        assert again.stop() == 0
    assert applied_per_sha(store) == Counter({sha(data): 1})
    assert "event=claim.taken_over" in again.log()


def test_run_without_sources_says_what_to_do(settings, tmp_path):
    config = write_config(tmp_path / "config.toml", settings, [])
    with Worker(config, "--once", log=tmp_path / "w.log") as worker:
        assert worker.wait(60) == 2
    assert "no sources are configured" in worker.log()


FAULT_POINTS = (
    "claimed",  # claim committed, import not started
    "chunk",  # inside the import transaction, after a chunk was written
    "before_commit",  # everything written, not committed
    "imported",  # committed, claim not marked
    "before_move",  # claim marked, file not moved
    "moved",  # file moved, claim not told
    "download_chunk",  # S3 object half downloaded
)


@pytest.mark.slow
def test_kill_9_at_random_points_loses_nothing_and_imports_each_file_once(
    store, settings, tmp_path, inbox, bucket
):
    iterations = int(os.environ.get("BILLFOLD_CRASH_ITERATIONS", "24"))
    seed = int(os.environ.get("BILLFOLD_CRASH_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    config = _config(tmp_path, settings, inbox, bucket, quiet=0.3)
    files: dict[str, bytes] = {}
    started = time.monotonic()
    history = []
    for i in range(iterations):
        name = f"batch-{i:02d}.csv"
        numbers = [f"4{i:02d}{n:02d}" for n in range(rng.randint(1, 40))]
        data = files[name] = export_bytes(tmp_path, *numbers)
        (inbox / f".{name}").write_bytes(data)
        os.rename(inbox / f".{name}", inbox / name)
        if i % 3 == 0:
            key = f"in/object-{i:02d}.csv"
            data = files[key] = export_bytes(tmp_path, f"5{i:02d}00", f"5{i:02d}01")
            bucket.put(key, data)
        point = rng.choice((*FAULT_POINTS, None))
        env = {"BILLFOLD_FAULT": f"{point}@{rng.randint(1, 2)}:kill"} if point else {}
        with Worker(config, log=tmp_path / f"w{i:02d}.log", env=env) as worker:
            # The random moment counts from when the worker is running: on a busy
            # machine starting Python alone can take longer than the whole window.
            worker.wait_for_log("event=run.started")
            deadline = time.monotonic() + rng.uniform(0.5, 4.0)
            while worker.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            code = worker.kill()
        fired = "event=fault.injected" in worker.log()
        history.append((point, "fault" if fired else "killed"))
        assert code == -signal.SIGKILL, worker.log()
        assert (
            count(store, "import_batch", "status NOT IN ('applied', 'duplicate')") == 0
        )
        if store.is_sqlite:
            assert sqlite_integrity(store) == "ok", (seed, i)

    with Worker(config, log=tmp_path / "final.log") as final:
        final.wait_for_log(
            "event=run.started"
        )  # the crashes may have left nothing to do
        wait_until(
            lambda: (
                len(applied_per_sha(store)) >= len(files)
                and os.listdir(inbox) == ["processed"]
                and open_claims(store) == 0
            ),
            120,
            f"every file imported after the crashes (seed {seed})",
        )
        assert final.stop() == 0, final.log()

    note = f"seed {seed}, kills {history}"
    assert any(how == "fault" for _, how in history), note
    assert applied_per_sha(store) == Counter({sha(d): 1 for d in files.values()}), note
    assert set(statuses(store)) <= {"applied", "duplicate"}, note
    expected_invoices = sum(d.count(b"\ninvoice,") for d in files.values())
    assert count(store, "invoice") == expected_invoices, note
    moved = Counter(n.split("-", 1)[1] for n in os.listdir(inbox / "processed"))
    assert moved == Counter(n for n in files if not n.startswith("in/")), note
    with store.read() as conn:
        stray = conn.execute(
            text("SELECT count(*) FROM import_batch WHERE finished_at IS NULL")
        )
        assert stray.scalar_one() == 0, note
    if store.is_sqlite:
        assert sqlite_integrity(store) == "ok", note
    shutil.rmtree(tmp_path / "staging")
    print(
        f"crash loop: {iterations} kills in {time.monotonic() - started:.0f}s; {note}"
    )
