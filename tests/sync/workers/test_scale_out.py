"""Scale-out imports: every worker imports one bucket's objects at once (listing alone is
under the source's job lock), an older export is still never applied after a newer one,
and a crashed worker's object is taken over within the lease."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from schemas.tables import FileClaim, ImportBatch, Invoice
from sync.config import RunnerSettings, load_settings
from sync.engine.pipeline import import_file
from sync.store import Store
from sync.store.migrate import upgrade
from sync.workers import claims
from sync.workers.s3 import S3Source
from sync.workers.status import source_status
from tests.helpers import header_without_lines, invoice_row, write_csv
from tests.sync.workers.test_sources_s3 import s3_settings, source_for
from tests.workers import Worker, other_hosts_possible, wait_until, write_config

B = ImportBatch.__table__
C = FileClaim.__table__
I = Invoice.__table__  # noqa: E741


def export(tmp_path, i: int) -> bytes:
    """Export *i*: invoice 9701 paid down a little more each time, and one of its own."""
    balance = 100 - 2 * i
    path = write_csv(
        tmp_path / "staging" / f"export-{i:02d}.csv",
        header_without_lines(),
        [
            invoice_row(
                "9701",
                "Bayview Café",
                "100.00",
                balance_due=f"{balance}.00",
                amount_paid=f"{100 - balance}.00",
            ),
            invoice_row(f"8{i:03d}", f"Customer {i % 5}", "120.00"),
        ],
    )
    return path.read_bytes()


def put_exports(bucket, tmp_path, n: int) -> dict[str, bytes]:
    """Upload *n* exports, oldest first (key order is age order within a second)."""
    (tmp_path / "staging").mkdir(exist_ok=True)
    files = {}
    for i in range(n):
        files[f"in/object-{i:02d}.csv"] = data = export(tmp_path, i)
        bucket.put(f"in/object-{i:02d}.csv", data)
    return files


def ledger(store) -> dict[str, list[tuple]]:
    """What customers see: every invoice's amounts and status."""
    with store.read() as conn:
        rows = conn.execute(
            select(I.c.number, I.c.total_minor, I.c.balance_minor, I.c.status)
        ).all()
    return {"invoices": sorted(tuple(r) for r in rows)}


def clean_ledger(settings, bucket, tmp_path, source) -> dict[str, list[tuple]]:
    """The same objects imported one by one, oldest first, into a fresh store."""
    clean = replace(
        settings,
        data_dir=tmp_path / "clean-data",
        database_url=f"sqlite:///{tmp_path / 'clean.db'}",
    )
    store = Store(clean.resolved_database_url)
    upgrade(store)
    objects = sorted(source.objects(), key=lambda o: o.oldest_first())
    for obj in objects:
        path = tmp_path / "staging" / obj.name
        path.write_bytes(
            bucket.client.get_object(Bucket=bucket.name, Key=obj.key)["Body"].read()
        )
        result = import_file(
            store, clean, path, source=source.name, name=obj.name,
            as_of=obj.last_modified,
        )  # fmt: skip
        assert result.status == "applied", result
    try:
        return ledger(store)
    finally:
        store.dispose()


def applied_per_sha(store) -> Counter:
    with store.read() as conn:
        return Counter(
            conn.execute(select(B.c.sha256).where(B.c.status == "applied")).scalars()
        )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_leases_are_short_and_renewed_often_by_default():
    runner = load_settings(None, env={}).runner
    assert (runner.lease_seconds, runner.renew_seconds) == (30, 5.0)


def test_two_workers_import_different_objects_of_one_bucket_at_once(
    store, settings, bucket, tmp_path, monkeypatch
):
    cfg = _s3(settings, bucket)
    files = put_exports(bucket, tmp_path, 6)
    assert source_for(store, cfg).list_new() == 6  # listed once, imported by both
    both_downloading = threading.Barrier(2, timeout=60)
    first: dict[str, str] = {}
    real_download = S3Source.download

    def download(self, obj):  # type: ignore[no-untyped-def]
        path = real_download(self, obj)
        worker = threading.current_thread().name
        if worker not in first:
            first[worker] = obj.key
            both_downloading.wait()  # passes only when the other holds one too
        return path

    monkeypatch.setattr(S3Source, "download", download)
    taken: dict[str, int] = {}

    def work(name: str) -> None:
        taken[name] = source_for(store, cfg).retry_due()

    threads = [
        threading.Thread(target=work, args=(f"w{n}",), name=f"w{n}") for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert not both_downloading.broken
    assert len(set(first.values())) == 2  # two different objects, held at once
    assert sum(taken.values()) == 6 and all(taken.values())  # both imported some
    assert applied_per_sha(store) == Counter({sha(d): 1 for d in files.values()})
    with store.read() as conn:
        order = conn.execute(select(B.c.file_name).order_by(B.c.id)).scalars().all()
    assert order == sorted(order)  # applied oldest first, whoever imported them
    source = source_for(store, cfg)
    assert ledger(store) == clean_ledger(settings, bucket, tmp_path, source)
    assert ledger(store)["invoices"][-1] == ("9701", 10000, 9000, "partially_paid")


def test_a_newer_object_waits_for_an_older_one_another_worker_holds(
    store, settings, bucket, tmp_path
):
    cfg = _s3(settings, bucket)
    put_exports(bucket, tmp_path, 2)
    source = source_for(store, cfg)
    source.list_new()
    older, newer = sorted(source.objects(), key=lambda o: o.oldest_first())
    held = claims.claim_file(
        store, "bucket", older.key, older.etag, lease_seconds=30,
        last_modified=older.last_modified,
    )  # fmt: skip
    assert held.won  # a live worker (this test) holds the older object

    done = threading.Event()
    waiter = threading.Thread(
        target=lambda: (source.take(newer), done.set()), daemon=True
    )
    waiter.start()
    wait_until(
        lambda: _state(store, newer.key) == ("claimed", 1), 30, "the newer one claimed"
    )
    assert not done.is_set() and applied_per_sha(store) == Counter()
    claims.step_back(store, held.claim)  # the older one is free again: the waiter
    waiter.join(60)  # steps back too, and the oldest goes first
    assert done.is_set()
    assert source.retry_due() == 2
    with store.read() as conn:
        order = conn.execute(select(B.c.file_name).order_by(B.c.id)).scalars().all()
    assert order == ["object-00.csv", "object-01.csv"]


def _state(store, key):
    with store.read() as conn:
        row = conn.execute(
            select(C.c.state, C.c.attempts).where(C.c.file_key == key)
        ).first()
    return None if row is None else tuple(row)


@pytest.mark.slow  # real worker processes and a lease to run out
def test_kill_9_of_a_worker_on_another_host_is_taken_over_within_the_lease(
    store, settings, bucket, tmp_path
):
    files = put_exports(bucket, tmp_path, 12)
    config = write_config(
        tmp_path / "config.toml",
        settings,
        [
            {
                "name": "bucket",
                "kind": "s3",
                "bucket": bucket.name,
                "prefix": "in/",
                "endpoint_url": bucket.endpoint,
                "region": "us-east-1",
                "schedule": "every 1 second",
            }
        ],
        runner={"retry_seconds": 1, "download_backoff_seconds": 0.1},
    )
    lease = RunnerSettings().lease_seconds
    host = "billfold-node-a" if other_hosts_possible() else None
    with Worker(
        config,
        log=tmp_path / "a.log",
        env={"BILLFOLD_FAULT": "before_commit@1:kill"},  # mid-import, uncommitted
        host=host,
    ) as a:
        a.wait_for_log("event=file.importing", 120)  # A holds the oldest object
        with Worker(config, log=tmp_path / "b.log") as b:
            wait_until(lambda: a.proc.poll() is not None, 120, "worker A killed")
            killed = datetime.now(UTC).replace(tzinfo=None)
            assert "event=fault.injected" in a.log(), a.log()
            wait_until(
                lambda: sum(applied_per_sha(store).values()) >= len(files),
                lease + 60,
                "every object imported by worker B",
            )
            assert b.stop() == 0, b.log()

    with store.read() as conn:
        retaken = conn.execute(
            select(C.c.file_key, C.c.claimed_at).where(C.c.attempts >= 2)
        ).all()
    assert retaken, "worker A's object was taken over"
    for _, taken_at in retaken:
        assert taken_at - killed <= timedelta(seconds=lease + 5)
    assert applied_per_sha(store) == Counter({sha(d): 1 for d in files.values()})
    source = source_for(store, _s3(settings, bucket))
    assert ledger(store) == clean_ledger(settings, bucket, tmp_path, source)


def _s3(settings, bucket):
    cfg = s3_settings(settings, bucket)
    return replace(cfg, sources=(replace(cfg.sources[0], prefix="in/"),))


def test_listing_alone_holds_the_job_lock(store, settings, bucket, tmp_path):
    cfg = _s3(settings, bucket)
    put_exports(bucket, tmp_path, 1)
    source = source_for(store, cfg)
    assert claims.run_exclusively(store, "poll:bucket", 30, source.list_new)
    assert applied_per_sha(store) == Counter()  # listed, not imported, lock released
    with store.read() as conn:
        status = source_status(conn, cfg)[0]
    assert (status["files_pending"], status["in_progress"]) == (1, 0)
    assert claims.acquire_lock(store, "poll:bucket", 30) is not None
    assert source.retry_due() == 1


def test_when_an_older_objects_holder_dies_the_worker_takes_it_first_at_once(
    store, settings, bucket, tmp_path, monkeypatch
):
    cfg = _s3(settings, bucket)
    put_exports(bucket, tmp_path, 3)
    source = source_for(store, cfg)
    source.list_new()
    oldest = min(source.objects(), key=lambda o: o.oldest_first())
    held = claims.claim_file(
        store, "bucket", oldest.key, oldest.etag, lease_seconds=30,
        last_modified=oldest.last_modified,
    )  # fmt: skip
    assert held.won  # a live worker holds the oldest object
    downloads: Counter = Counter()
    real_download = S3Source.download

    def download(self, obj):  # type: ignore[no-untyped-def]
        downloads[obj.key] += 1
        return real_download(self, obj)

    monkeypatch.setattr(S3Source, "download", download)
    taken: list[int] = []
    worker = threading.Thread(target=lambda: taken.append(source.retry_due()))
    worker.start()
    wait_until(
        lambda: _state(store, "in/object-01.csv") == ("claimed", 1),
        30,
        "the next object claimed and waiting for the oldest",
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    with store.write(ledger=False) as conn:  # ... and the oldest one's holder dies
        conn.execute(
            update(C)
            .where(C.c.id == held.claim.id)
            .values(claimed_by=f"{socket.gethostname()}:{dead.pid}")
        )
    claims.let_go(held.claim)
    worker.join(120)

    assert taken == [3]
    with store.read() as conn:
        order = conn.execute(select(B.c.file_name).order_by(B.c.id)).scalars().all()
    assert order == ["object-00.csv", "object-01.csv", "object-02.csv"]
    # Given back once, then the pass started again from the oldest: the newest object
    # was not fetched (and given back) while the oldest waited.
    assert downloads == Counter(
        {"in/object-00.csv": 1, "in/object-01.csv": 2, "in/object-02.csv": 1}
    )
