"""S3 sources against a real S3 HTTP endpoint (moto's server mode), never a stubbed client."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from schemas.tables import (
    FILE_CLAIMS,
    IMPORT_BATCHES,
    INVOICES,
    utcnow,
)
from sync.config import RunnerSettings, SourceSettings
from sync.faults import InjectedFault
from sync.workers.s3 import S3Source
from sync.workers.status import source_status
from tests.helpers import (
    SAMPLE_LEDGER,
    count,
    header_without_lines,
    invoice_row,
    write_csv,
)
from tests.workers import run_once, wait_until, write_config

B = IMPORT_BATCHES
C = FILE_CLAIMS
I = INVOICES  # noqa: E741


def csv_bytes(tmp_path, *numbers) -> bytes:
    path = tmp_path / f"export-{'-'.join(numbers)}.csv"
    write_csv(
        path,
        header_without_lines(),
        [invoice_row(n, "Bayview Café", "50.00") for n in numbers],
    )
    return path.read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_settings(settings, bucket, endpoint=None, **runner):
    return replace(
        settings,
        sources=(
            SourceSettings(
                name="bucket",
                kind="s3",
                bucket=bucket.name,
                prefix="exports/",
                endpoint_url=endpoint or bucket.endpoint,
                region="us-east-1",
            ),
        ),
        runner=RunnerSettings(download_backoff_seconds=0.0, retry_seconds=1, **runner),
    )


def source_for(store, settings):
    return S3Source(settings, store, settings.sources[0], threading.Event())


def batches(store):
    with store.read() as conn:
        return conn.execute(select(B).order_by(B.c.id)).all()


def test_each_object_version_is_imported_once_and_the_bucket_is_only_read(
    store, settings, bucket, tmp_path
):
    cfg = s3_settings(settings, bucket)
    first = csv_bytes(tmp_path, "9001", "9002")
    bucket.put("exports/2025/march.csv", first)
    bucket.put("exports/april.csv", csv_bytes(tmp_path, "9003"))
    bucket.put("exports/may.csv.part", b"half an upload")
    bucket.put("exports/.hidden.csv", b"x")
    bucket.put("elsewhere/june.csv", csv_bytes(tmp_path, "9004"))
    keys = bucket.list_keys()
    source = source_for(store, cfg)

    assert source.poll() == 2
    assert source.poll() == 0  # nothing new: no claim attempts, no batches
    assert sorted((b.file_name, b.status) for b in batches(store)) == [
        ("april.csv", "applied"),
        ("march.csv", "applied"),
    ]

    bucket.put("exports/2025/march.csv", first)  # the same bytes again: same ETag
    assert source.poll() == 0
    changed = csv_bytes(tmp_path, "9001", "9002", "9005")
    bucket.put("exports/2025/march.csv", changed)  # new content: new ETag
    assert source.poll() == 1

    assert [b.sha256 for b in batches(store) if b.file_name == "march.csv"] == [
        sha(first),
        sha(changed),
    ]
    assert count(store, "invoice") == 4
    assert bucket.list_keys() == keys  # nothing written, moved or deleted
    with store.read() as conn:
        status = source_status(conn, cfg)[0]
        claims_ = conn.execute(select(C.c.file_key, C.c.state)).all()
    assert sorted(claims_) == sorted(
        [("exports/2025/march.csv", "imported")] * 2
        + [("exports/april.csv", "imported")]
    )
    assert (status["kind"], status["location"], status["files_pending"]) == (
        "s3",
        f"s3://{bucket.name}/exports/",
        0,
    )
    assert status["last_success"] is not None and status["last_error"] is None


def test_hostile_keys_never_name_a_path_outside_the_data_folder(
    store, settings, bucket, tmp_path
):
    # FILE-01: an object key is the uploader's text; it names nothing on this disk.
    cfg = s3_settings(settings, bucket)
    bucket.put("exports/../../../../tmp/evil.csv", csv_bytes(tmp_path, "9101"))
    bucket.put("exports/a\\..\\..\\win.csv", csv_bytes(tmp_path, "9102"))
    bucket.put("exports/x/\x1b[31mred.csv", csv_bytes(tmp_path, "9103"))
    before = set(tmp_path.parent.iterdir())

    assert source_for(store, cfg).poll() == 3

    names = sorted(b.file_name for b in batches(store))
    assert names == ["[31mred.csv", "evil.csv", "win.csv"]
    assert not any("/" in n or "\\" in n or ".." in n for n in names)
    assert set(tmp_path.parent.iterdir()) == before  # nothing written beside tmp_path
    assert count(store, "invoice") == 3
    for batch in batches(store):
        stored = (settings.data_dir / batch.stored_path).resolve()
        assert stored.is_relative_to(settings.data_dir.resolve())


def test_a_download_cut_halfway_is_retried_and_never_half_imported(
    store, settings, bucket, cutting_proxy, tmp_path
):
    cfg = s3_settings(settings, bucket, endpoint=cutting_proxy.url)
    data = SAMPLE_LEDGER.read_bytes()
    bucket.put("exports/ledger.csv", data)
    cutting_proxy.cut("exports/ledger.csv", times=1)

    assert source_for(store, cfg).poll() == 1

    assert cutting_proxy.cut_count == 1
    assert [(b.status, b.sha256) for b in batches(store)] == [("applied", sha(data))]
    assert count(store, "invoice") == 14
    assert list((settings.data_dir / "tmp").iterdir()) == []  # temp files cleaned up


def test_a_download_that_keeps_failing_waits_and_is_retried_later(
    store, settings, bucket, cutting_proxy
):
    cfg = s3_settings(settings, bucket, endpoint=cutting_proxy.url)
    data = SAMPLE_LEDGER.read_bytes()
    bucket.put("exports/ledger.csv", data)
    cutting_proxy.cut("exports/ledger.csv", times=3)
    source = source_for(store, cfg)

    source.poll()

    assert cutting_proxy.cut_count == 3  # download_attempts, each cut
    assert batches(store) == []  # nothing half-imported, nothing recorded as a batch
    with store.read() as conn:
        claim = conn.execute(select(C)).one()
        status = source_status(conn, cfg)[0]
    assert (claim.state, claim.attempts) == ("failed", 1)
    assert "failed after 3 attempt(s)" in claim.last_error
    assert status["failed_files"][0]["file"] == "exports/ledger.csv"
    assert status["failed_files"][0]["retry_at"] is not None
    assert source.poll() == 0  # not due yet

    with store.write(ledger=False) as conn:
        conn.execute(update(C).values(retry_at=utcnow() - timedelta(seconds=1)))
    assert source.retry_due() == 1

    assert [(b.status, b.sha256) for b in batches(store)] == [("applied", sha(data))]
    with store.read() as conn:
        claim = conn.execute(select(C)).one()
    assert (claim.state, claim.attempts) == ("imported", 2)


def test_two_pollers_at_once_import_each_object_once(store, settings, bucket, tmp_path):
    cfg = s3_settings(settings, bucket)
    for n in range(8):
        bucket.put(f"exports/file-{n}.csv", csv_bytes(tmp_path, f"95{n:02d}"))
    pollers = [source_for(store, cfg) for _ in range(2)]
    barrier = threading.Barrier(2)

    def poll(source):
        barrier.wait()
        source.poll()

    threads = [threading.Thread(target=poll, args=(p,)) for p in pollers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    found = batches(store)
    assert len(found) == 8 and all(b.status == "applied" for b in found)
    assert len({b.sha256 for b in found}) == 8
    assert count(store, "invoice") == 8


def test_an_object_replaced_before_its_download_is_taken_in_its_new_version(
    store, settings, bucket, tmp_path
):
    cfg = s3_settings(settings, bucket)
    bucket.put("exports/a.csv", csv_bytes(tmp_path, "9601"))
    source = source_for(store, cfg)
    (listed,) = list(source.objects())
    newer = csv_bytes(tmp_path, "9601", "9602")
    bucket.put("exports/a.csv", newer)

    source.take(listed)  # that ETag is gone: nothing imported, claim dropped

    assert batches(store) == []
    assert count(store, "file_claim") == 0
    assert source.poll() == 1
    assert [b.sha256 for b in batches(store)] == [sha(newer)]


def test_an_unreachable_bucket_is_reported_in_status(store, settings, bucket):
    cfg = s3_settings(
        settings, bucket, endpoint="http://127.0.0.1:9"
    )  # nothing listens
    source = source_for(store, cfg)

    assert source.poll() == 0

    assert source.problems == 1
    with store.read() as conn:
        status = source_status(conn, cfg)[0]
    assert "cannot list" in status["last_error"]
    assert status["last_success"] is None and status["last_poll"] is not None


@pytest.mark.slow  # real worker processes and waits: seconds each
def test_billfold_run_once_on_a_bucket(store, settings, bucket, tmp_path):
    config = write_config(
        tmp_path / "config.toml",
        settings,
        [
            {
                "name": "bucket",
                "kind": "s3",
                "bucket": bucket.name,
                "prefix": "exports/",
                "endpoint_url": bucket.endpoint,
                "region": "us-east-1",
                "document_patterns": ["INV-{number}.pdf"],
            }
        ],
    )
    bucket.put("exports/ledger.csv", SAMPLE_LEDGER.read_bytes())
    bucket.put("exports/INV-1001.pdf", b"%PDF-1.4\n% s3 copy\n%%EOF\n")

    assert run_once(config, log=tmp_path / "once.log") == 0, (
        tmp_path / "once.log"
    ).read_text()
    assert run_once(config, log=tmp_path / "again.log") == 0

    assert sorted((b.file_name, b.status) for b in batches(store)) == [
        ("INV-1001.pdf", "applied"),
        ("ledger.csv", "applied"),
    ]
    with store.read() as conn:
        linked = conn.execute(
            select(B.c.id).where(B.c.file_name == "INV-1001.pdf")
        ).scalar_one()
    assert (
        count(store, "document", f"batch_id = {linked} AND invoice_id IS NOT NULL") == 1
    )


# -- order and as-of time: an older export under a later key ---------------------------


def balance_export(tmp_path, name: str, balance: str) -> bytes:
    """Invoice 9701 (100.00) with the balance this export reports (no updated-at)."""
    paid = f"{100 - int(balance.split('.')[0])}.00"
    path = write_csv(
        tmp_path / name,
        header_without_lines(),
        [
            invoice_row(
                "9701", "Bayview Café", "100.00", balance_due=balance, amount_paid=paid
            )
        ],
    )
    return path.read_bytes()


def last_modified(bucket, key: str) -> datetime:
    """The object's LastModified as the listing gives it (naive UTC, like the store)."""
    (item,) = bucket.client.list_objects_v2(Bucket=bucket.name, Prefix=key)["Contents"]
    return item["LastModified"].astimezone(UTC).replace(tzinfo=None)


def march_then_april(bucket, tmp_path) -> dict[str, datetime]:
    """Upload March's export (unpaid) under z_march.csv, then April's (paid) under
    a_april.csv; key order is the reverse of age. S3 keeps LastModified to the second,
    so April waits until the clock is past March's second (polled, never assumed)."""
    bucket.put("exports/z_march.csv", balance_export(tmp_path, "march.csv", "100.00"))
    march = last_modified(bucket, "exports/z_march.csv")
    wait_until(
        lambda: datetime.now(UTC).replace(tzinfo=None) >= march + timedelta(seconds=1),
        timeout=60,
        what="the clock to pass March's LastModified",
    )
    bucket.put("exports/a_april.csv", balance_export(tmp_path, "april.csv", "0.00"))
    april = last_modified(bucket, "exports/a_april.csv")
    assert april > march
    return {"z_march.csv": march, "a_april.csv": april}


def invoice_9701(store):
    with store.read() as conn:
        return conn.execute(
            select(I.c.status, I.c.balance_minor).where(I.c.number == "9701")
        ).one()


def test_an_older_export_under_a_later_key_never_overwrites_a_newer_one(
    store, settings, bucket, tmp_path
):
    # Seen in the field: z_march.csv uploaded before a_april.csv; taken in key order
    # with the download time as as-of, March's export put the invoice back to unpaid.
    cfg = s3_settings(settings, bucket)
    modified = march_then_april(bucket, tmp_path)

    assert source_for(store, cfg).poll() == 2

    assert tuple(invoice_9701(store)) == ("paid", 0)
    assert [(b.file_name, b.as_of) for b in batches(store)] == [
        ("z_march.csv", modified["z_march.csv"]),  # oldest first, as of LastModified
        ("a_april.csv", modified["a_april.csv"]),
    ]


def test_objects_left_by_crashed_workers_are_taken_over_oldest_first(
    store, settings, bucket, tmp_path, inject_fault
):
    cfg = s3_settings(settings, bucket)
    modified = march_then_april(bucket, tmp_path)
    source = source_for(store, cfg)
    listed = {o.name: o for o in source.objects()}
    # Two workers each claimed one object (April's first) and died before importing it.
    for name in ("a_april.csv", "z_march.csv"):
        inject_fault("claimed:raise")
        with pytest.raises(InjectedFault):
            source.take(listed[name])
    inject_fault(None)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with store.write(ledger=False) as conn:  # ... and those workers are gone
        conn.execute(update(C).values(claimed_by=f"{socket.gethostname()}:{dead.pid}"))
    assert batches(store) == []

    assert source.retry_due() == 2

    assert tuple(invoice_9701(store)) == ("paid", 0)
    assert [(b.file_name, b.as_of) for b in batches(store)] == [
        ("z_march.csv", modified["z_march.csv"]),
        ("a_april.csv", modified["a_april.csv"]),
    ]
    with store.read() as conn:
        states = conn.execute(select(C.c.state, C.c.attempts)).all()
    assert sorted(states) == [("imported", 2), ("imported", 2)]
