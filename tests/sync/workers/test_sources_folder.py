"""Folder sources: settle, claim, import once, file away; with a real `billfold run` too."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from schemas.tables import (
    DOCUMENTS,
    FILE_CLAIMS,
    IMPORT_BATCHES,
    INVOICES,
    utcnow,
)
from sync.config import RunnerSettings, SourceSettings, load_settings
from sync.workers import claims
from sync.workers.folder import FolderSource, StableFiles, is_ignored
from sync.workers.status import source_status
from tests.helpers import (
    count,
    header_without_lines,
    invoice_row,
    run_import,
    write_csv,
)
from tests.workers import Worker, slow_write, wait_until, write_config

B = IMPORT_BATCHES
C = FILE_CLAIMS


def export(path, *numbers, customer="Bayview Café", total="100.00"):
    """Write a generic CSV export with one invoice per number."""
    return write_csv(
        path, header_without_lines(), [invoice_row(n, customer, total) for n in numbers]
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def applied_per_sha(store):
    with store.read() as conn:
        rows = (
            conn.execute(select(B.c.sha256).where(B.c.status == "applied"))
            .scalars()
            .all()
        )
    return {s: rows.count(s) for s in rows}


# -- names and settling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("invoices.csv", False),
        ("INV-1001.pdf", False),
        (".invoices.csv", True),
        (".~lock.invoices.csv#", True),
        ("invoices.csv.part", True),
        ("invoices.csv.PART", True),
        ("invoices.tmp", True),
        ("invoices.csv.crdownload", True),
        ("invoices.csv.partial", True),
        ("invoices.csv~", True),
        ("~$invoices.xlsx", True),
    ],
)
def test_temporary_and_hidden_names_are_ignored(name, ignored):
    assert is_ignored(name) is ignored


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_file_is_ready_only_after_the_quiet_period_without_change(tmp_path):
    clock = Clock()
    files = StableFiles(5.0, clock)
    path = tmp_path / "a.csv"
    path.write_bytes(b"x")
    files.notice("a.csv")

    assert files.ready(tmp_path) == []  # first look records size and mtime
    clock.now += 4.9
    assert files.ready(tmp_path) == []
    path.write_bytes(b"xy")  # the writer carries on
    clock.now += 0.2
    assert files.ready(tmp_path) == []
    clock.now += 4.9
    assert files.ready(tmp_path) == []
    clock.now += 0.2
    assert files.ready(tmp_path) == ["a.csv"]
    assert "a.csv" not in files


def test_a_renamed_file_needs_only_a_moment_unless_it_keeps_changing(tmp_path):
    clock = Clock()
    files = StableFiles(30.0, clock)
    (tmp_path / "r.csv").write_bytes(b"done")
    (tmp_path / "w.csv").write_bytes(b"a")
    files.notice("r.csv", renamed=True)
    files.notice("w.csv", renamed=True)
    files.ready(tmp_path)
    (tmp_path / "w.csv").write_bytes(b"ab")  # written to after the rename
    clock.now += 1.0

    assert files.ready(tmp_path) == ["r.csv"]
    clock.now += 1.0
    assert files.ready(tmp_path) == []


def test_a_vanished_file_is_forgotten(tmp_path):
    files = StableFiles(0.0, Clock())
    files.notice("gone.csv")
    assert files.ready(tmp_path) == []
    assert len(files) == 0


# -- one worker, in process -----------------------------------------------------------------


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def folder_settings(settings, inbox):
    return replace(
        settings,
        sources=(
            SourceSettings(
                name="inbox",
                path=str(inbox),
                quiet_seconds=0.0,
                document_patterns=("INV-{number}.pdf",),
            ),
        ),
        runner=RunnerSettings(retry_seconds=1, max_attempts=3),
    )


def _folder(store, settings):
    return FolderSource(settings, store, settings.sources[0], threading.Event())


def _take_all(source):
    source.scan()
    source.process_ready()  # first look
    return source.process_ready()


def test_files_present_at_start_are_taken_and_filed_away_by_batch(
    store, folder_settings, inbox
):
    good = export(inbox / "march.csv", "7001", "7002")
    (inbox / "junk.txt").write_bytes(b"this is no export\n")
    (inbox / "later.csv.part").write_bytes(b"half")
    source = _folder(store, folder_settings)

    assert _take_all(source) == 2

    with store.read() as conn:
        batches = {r.file_name: r for r in conn.execute(select(B))}
        status = source_status(conn, folder_settings)[0]
    applied, rejected = batches["march.csv"], batches["junk.txt"]
    assert (applied.status, rejected.status) == ("applied", "rejected")
    assert sorted(os.listdir(inbox)) == ["failed", "later.csv.part", "processed"]
    assert os.listdir(inbox / "processed") == [f"{applied.id}-march.csv"]
    assert os.listdir(inbox / "failed") == [f"{rejected.id}-junk.txt"]
    assert not good.exists()
    assert count(store, "invoice") == 2
    assert status["files_pending"] == 0
    assert [
        (f["file"], f["status"], f["batch_id"]) for f in status["failed_files"]
    ] == [("junk.txt", "rejected", rejected.id)]
    assert "unrecognised" in status["failed_files"][0]["reason"]
    assert status["failed_files"][0]["moved_to"] == str(
        inbox / "failed" / f"{rejected.id}-junk.txt"
    )


def test_files_that_settle_together_are_taken_oldest_first_as_of_their_mtime(
    store, folder_settings, inbox
):
    # The folder twin of the S3 case: an older export under a later name.
    march = export(inbox / "z_march.csv", "7051", total="100.00")
    april = write_csv(
        inbox / "a_april.csv",
        header_without_lines(),
        [invoice_row("7051", "Bayview Café", "100.00", balance_due="0.00")],
    )
    os.utime(march, (1_740_000_000, 1_740_000_000))
    os.utime(april, (1_743_000_000, 1_743_000_000))

    assert _take_all(_folder(store, folder_settings)) == 2

    with store.read() as conn:
        taken = conn.execute(select(B.c.file_name, B.c.as_of).order_by(B.c.id)).all()
        status = conn.execute(select(INVOICES.c.status)).scalar_one()
    assert [(t.file_name, t.as_of) for t in taken] == [
        (
            "z_march.csv",
            datetime.fromtimestamp(1_740_000_000, UTC).replace(tzinfo=None),
        ),
        (
            "a_april.csv",
            datetime.fromtimestamp(1_743_000_000, UTC).replace(tzinfo=None),
        ),
    ]
    assert status == "paid"


def test_the_same_name_dropped_again_is_a_new_file_and_never_overwrites(
    store, folder_settings, inbox
):
    source = _folder(store, folder_settings)
    data = export(inbox / "daily.csv", "7101").read_bytes()
    _take_all(source)
    (inbox / "daily.csv").write_bytes(data)  # the same bytes, the same name
    _take_all(source)
    export(inbox / "daily.csv", "7102")  # the same name, new bytes
    _take_all(source)

    with store.read() as conn:
        batches = conn.execute(select(B.c.id, B.c.status).order_by(B.c.id)).all()
    assert [b.status for b in batches] == ["applied", "duplicate", "applied"]
    assert sorted(os.listdir(inbox / "processed")) == sorted(
        f"{b.id}-daily.csv" for b in batches
    )
    assert (inbox / "processed" / f"{batches[1].id}-daily.csv").read_bytes() == data


def test_a_taken_name_in_processed_gets_a_number_instead_of_being_overwritten(
    store, folder_settings, inbox
):
    (inbox / "processed").mkdir()
    (inbox / "processed" / "1-a.csv").write_bytes(b"someone else's file")
    export(inbox / "a.csv", "7201")

    _take_all(_folder(store, folder_settings))

    assert (inbox / "processed" / "1-a.csv").read_bytes() == b"someone else's file"
    assert (inbox / "processed" / "1-a-2.csv").exists()


def test_an_import_that_fails_leaves_the_file_and_is_retried_once(
    store, folder_settings, inbox, inject_fault
):
    export(inbox / "a.csv", "7301", "7302")
    source = _folder(store, folder_settings)
    inject_fault("before_commit:raise")
    _take_all(source)

    assert (inbox / "a.csv").exists()
    assert count(store, "invoice") == 0
    with store.read() as conn:
        claim = conn.execute(select(C)).one()
        status = source_status(conn, folder_settings)[0]
    assert (claim.state, claim.attempts) == ("failed", 1)
    assert claim.retry_at is not None and "injected fault" in claim.last_error
    assert status["failed_files"][0]["retry_at"] is not None

    inject_fault(None)
    wait_until(lambda: source.process_ready() or not (inbox / "a.csv").exists(), 60)
    wait_until(lambda: source.process_ready() or not (inbox / "a.csv").exists(), 60)

    assert not (inbox / "a.csv").exists()
    assert count(store, "invoice") == 2
    assert list(applied_per_sha(store).values()) == [1]
    with store.read() as conn:
        claim = conn.execute(select(C)).one()
    assert (claim.state, claim.attempts, claim.retry_at) == ("imported", 2, None)


def test_a_file_failing_every_attempt_moves_to_failed_with_its_reason(
    store, folder_settings, inbox, inject_fault
):
    settings = replace(
        folder_settings, runner=RunnerSettings(retry_seconds=1, max_attempts=1)
    )
    export(inbox / "a.csv", "7401")
    inject_fault("before_commit:raise")
    _take_all(_folder(store, settings))

    with store.read() as conn:
        claim = conn.execute(select(C)).one()
    assert (claim.state, claim.retry_at) == ("failed", None)
    assert claim.moved_to.startswith(str(inbox / "failed"))
    assert os.listdir(inbox / "failed") == [os.path.basename(claim.moved_to)]


def test_a_file_written_to_during_its_import_stays_and_is_taken_again_whole(
    store, folder_settings, inbox, monkeypatch
):
    from sync.workers import sources

    path = export(inbox / "a.csv", "7801")
    whole = export(inbox.parent / "whole.csv", "7801", "7802").read_bytes()
    real_import = sources.import_file

    def import_then_writer_resumes(*args, **kwargs):
        result = real_import(*args, **kwargs)
        path.write_bytes(whole)  # the writer had only paused
        return result

    monkeypatch.setattr(sources, "import_file", import_then_writer_resumes)
    source = _folder(store, folder_settings)
    _take_all(source)

    assert path.exists()  # not moved away from under its writer
    monkeypatch.setattr(sources, "import_file", real_import)
    wait_until(lambda: source.process_ready() or not path.exists(), 60)

    assert not path.exists()
    with store.read() as conn:
        found = conn.execute(select(B.c.sha256, B.c.status).order_by(B.c.id)).all()
    assert [f.status for f in found] == ["applied", "applied"]
    assert found[1].sha256 == sha(whole)
    assert count(store, "invoice") == 2
    assert os.listdir(inbox / "processed") == ["2-a.csv"]


def _dead_holder() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def test_a_worker_killed_after_its_commit_leaves_a_file_that_ends_in_processed(
    store, folder_settings, inbox
):
    path = export(inbox / "a.csv", "7501")
    data = path.read_bytes()
    first = run_import(store, folder_settings, path, source="inbox", name="a.csv")
    got = claims.claim_file(store, "inbox", "a.csv", sha(data), lease_seconds=600)
    claims.let_go(got.claim)
    with store.write(ledger=False) as conn:  # ... then the worker was killed
        conn.execute(update(C).values(claimed_by=_dead_holder()))

    _take_all(_folder(store, folder_settings))

    with store.read() as conn:
        claim = conn.execute(select(C)).one()
        dup = conn.execute(select(B).where(B.c.status == "duplicate")).one()
    assert applied_per_sha(store) == {sha(data): 1}
    assert (claim.state, claim.attempts, claim.batch_id) == ("duplicate", 2, dup.id)
    assert dup.duplicate_of_id == first.batch_id
    assert os.listdir(inbox / "processed") == [f"{dup.id}-a.csv"]


def test_a_worker_killed_before_moving_its_file_is_finished_by_another(
    store, folder_settings, inbox
):
    path = export(inbox / "a.csv", "7601")
    data = path.read_bytes()
    first = run_import(store, folder_settings, path, source="inbox", name="a.csv")
    got = claims.claim_file(store, "inbox", "a.csv", sha(data), lease_seconds=600)
    claims.finish_claim(
        store, got.claim, "imported", batch_id=first.batch_id, lease_seconds=600
    )
    claims.let_go(got.claim)
    with store.write(ledger=False) as conn:
        conn.execute(update(C).values(claimed_by=_dead_holder()))

    _take_all(_folder(store, folder_settings))

    assert count(store, "import_batch") == 1  # moved, not imported again
    assert os.listdir(inbox / "processed") == [f"{first.batch_id}-a.csv"]
    with store.read() as conn:
        assert (
            conn.execute(select(C.c.moved_to))
            .scalar_one()
            .endswith(f"{first.batch_id}-a.csv")
        )


def test_a_live_workers_unmoved_file_is_left_to_it(store, folder_settings, inbox):
    path = export(inbox / "a.csv", "7701")
    first = run_import(store, folder_settings, path, source="inbox", name="a.csv")
    got = claims.claim_file(
        store, "inbox", "a.csv", sha(path.read_bytes()), lease_seconds=600
    )
    claims.finish_claim(
        store, got.claim, "imported", batch_id=first.batch_id, lease_seconds=600
    )
    with store.write(ledger=False) as conn:
        conn.execute(update(C).values(claimed_by="elsewhere.example:7"))

    _take_all(_folder(store, folder_settings))
    assert path.exists()

    with store.write(ledger=False) as conn:
        conn.execute(update(C).values(lease_until=utcnow() - timedelta(seconds=1)))
    _take_all(_folder(store, folder_settings))
    assert not path.exists()
    claims.let_go(got.claim)


# -- a real `billfold run` -------------------------------------------------------------------


@pytest.mark.slow  # real worker processes and waits: seconds each
def test_cp_slow_writer_and_mv_each_land_once_and_pdfs_attach(
    store, settings, tmp_path, inbox
):
    quiet = 1.5
    config = write_config(
        tmp_path / "config.toml",
        settings,
        [
            {
                "name": "inbox",
                "kind": "folder",
                "path": str(inbox),
                "quiet_seconds": quiet,
                "document_patterns": ["INV-{number}.pdf"],
                "schedule": "every 2 seconds",
            }
        ],
        runner={"housekeeping": "every 2 seconds"},
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    export(inbox / "before-start.csv", "8001")
    staged = {
        "copied.csv": export(outside / "copied.csv", "8002").read_bytes(),
        "slow.csv": export(
            outside / "slow.csv", *(str(n) for n in range(8100, 8160))
        ).read_bytes(),
        "renamed.csv": export(outside / "renamed.csv", "8003").read_bytes(),
        "moved-in.csv": export(outside / "moved-in.csv", "1001").read_bytes(),
    }
    pdf = b"%PDF-1.4\n% invoice 1001\n%%EOF\n"
    (outside / "INV-1001.pdf").write_bytes(pdf)

    with Worker(config, log=tmp_path / "worker.log") as worker:
        worker.wait_for_log("event=run.started")
        subprocess.run(["cp", str(outside / "copied.csv"), str(inbox)], check=True)
        subprocess.run(["cp", str(outside / "INV-1001.pdf"), str(inbox)], check=True)
        # A slow writer: pauses longer than watchdog's event gap, shorter than quiet.
        slow_write(inbox / "slow.csv", staged["slow.csv"], chunks=6, pause=quiet / 3)
        # Written under a temp name, left there a while, then renamed into place.
        (inbox / "renamed.csv.part").write_bytes(staged["renamed.csv"])
        subprocess.run(["mv", str(outside / "moved-in.csv"), str(inbox)], check=True)
        wait_until(lambda: count(store, "import_batch", "status = 'applied'") >= 5, 120)
        assert count(store, "import_batch", "file_name LIKE 'renamed.csv%'") == 0
        os.rename(inbox / "renamed.csv.part", inbox / "renamed.csv")
        wait_until(lambda: count(store, "import_batch", "status = 'applied'") >= 6, 120)
        wait_until(lambda: sorted(os.listdir(inbox)) == ["processed"], 120)
        assert worker.stop() == 0

    names = ["before-start.csv", *staged, "INV-1001.pdf"]
    with store.read() as conn:
        batches = conn.execute(select(B)).all()
        invoice = conn.execute(
            select(INVOICES).where(INVOICES.c.number == "1001")
        ).one()
        doc = conn.execute(select(DOCUMENTS)).one()
    assert sorted(b.file_name for b in batches) == sorted(names)  # each exactly once
    assert all(b.status == "applied" for b in batches)
    by_name = {b.file_name: b for b in batches}
    for name, data in staged.items():
        assert by_name[name].sha256 == sha(data), name  # the whole file, never a part
    assert by_name["slow.csv"].created == 60
    assert sorted(os.listdir(inbox / "processed")) == sorted(
        f"{by_name[n].id}-{n}" for n in names
    )
    assert (doc.invoice_id, doc.account_id, doc.kind) == (
        invoice.id,
        invoice.account_id,
        "invoice_copy",
    )
    assert count(store, "invoice") == 64


@pytest.mark.slow  # real worker processes and waits: seconds each
def test_run_once_takes_what_is_there_and_reports_failures(
    store, settings, tmp_path, inbox
):
    from tests.workers import run_once

    config = write_config(
        tmp_path / "config.toml",
        settings,
        [{"name": "inbox", "kind": "folder", "path": str(inbox), "quiet_seconds": 0.5}],
    )
    export(inbox / "good.csv", "8201")
    shutil.copyfile(inbox / "good.csv", inbox / "good-copy.csv")
    (inbox / "bad.csv").write_bytes(b"nothing,we,know\n1,2,3\n")

    code = run_once(config, log=tmp_path / "once.log")

    assert code == 1, (tmp_path / "once.log").read_text()  # a file was rejected
    with store.read() as conn:
        statuses = sorted(conn.execute(select(B.c.status)).scalars())
    assert statuses == ["applied", "duplicate", "rejected"]
    assert sorted(os.listdir(inbox)) == ["failed", "processed"]
    assert len(os.listdir(inbox / "processed")) == 2
    assert run_once(config, log=tmp_path / "again.log") == 0  # nothing left to do


@pytest.mark.slow  # real worker processes and waits: seconds each
def test_a_folder_that_appears_later_is_watched_from_then_on(store, settings, tmp_path):
    share = tmp_path / "share"  # e.g. a network share mounted after billfold started
    config = write_config(
        tmp_path / "config.toml",
        settings,
        [
            {
                "name": "share",
                "kind": "folder",
                "path": str(share),
                "quiet_seconds": 0.5,
                "poll": True,
                "schedule": "every 1 second",
            }
        ],
    )
    with Worker(config, log=tmp_path / "w.log") as worker:
        worker.wait_for_log("event=source.error")

        def status_noted() -> dict | None:  # the log line comes just before the note
            with store.read() as conn:
                (status,) = source_status(conn, load_settings(config, env={}))
            return status if status["last_error"] else None

        status = wait_until(status_noted, 120, "the missing folder noted in its status")
        share.mkdir()
        export(share / "late.csv", "8301")
        wait_until(lambda: count(store, "import_batch", "status = 'applied'") == 1, 120)
        assert worker.stop() == 0
    assert f"folder {share} does not exist" in status["last_error"]
    assert status["last_success"] is None
    assert os.listdir(share / "processed")[0].endswith("-late.csv")
