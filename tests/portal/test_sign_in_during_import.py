"""An import reads and validates its file before it takes the write lock.

On SQLite there is one writer at a time, and a sign-in writes (it consumes the link and
opens a session): while an import is still parsing, the sign-in must go through. And
what the import then writes is decided against the store as it is when it applies, not
as it was when the parse began.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schemas.tables import INVOICES
from sync.engine import exports
from sync.engine.batch import ImportResult
from sync.engine.pipeline import import_file
from tests.helpers import header_without_lines, invoice_row, write_csv
from tests.portal.conftest import sign_in

WAIT = 60  # seconds a condition may take on a loaded machine before the test fails


class HeldImport:
    """An import in a thread, held in its parse until released."""

    def __init__(self, run: Callable[[Callable[[int, int], None]], ImportResult]):
        self.parsing = threading.Event()
        self.release = threading.Event()
        self.result: ImportResult | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(run,), daemon=True)

    def _hold(self, _read: int, _size: int) -> None:
        if not self.parsing.is_set():
            self.parsing.set()
            assert self.release.wait(WAIT), "the test never released the import"

    def _run(self, run: Callable[[Callable[[int, int], None]], ImportResult]) -> None:
        try:
            self.result = run(self._hold)
        except BaseException as exc:  # handed to the test thread
            self.error = exc

    def start(self) -> None:
        self.thread.start()
        assert self.parsing.wait(WAIT), "the import never started parsing"

    def finish(self) -> ImportResult:
        self.release.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the import did not finish"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@pytest.fixture
def held(store, portal_settings) -> Iterator[Callable[[Path], HeldImport]]:  # type: ignore[no-untyped-def]
    started: list[HeldImport] = []

    def hold(path: Path) -> HeldImport:
        def run(on_progress: Callable[[int, int], None]) -> ImportResult:
            return import_file(
                store, portal_settings, path, source="books", on_progress=on_progress
            )

        job = HeldImport(run)
        started.append(job)
        job.start()
        return job

    yield hold
    for job in started:  # a failed assertion must not leave a thread holding a lock
        job.release.set()
        job.thread.join(WAIT)


def _export(path: Path, rows: int, **kw: Any) -> Path:
    return write_csv(
        path,
        header_without_lines(),
        [invoice_row(f"LOCK-{i}", "Lockwood Ltd", "10.00", **kw) for i in range(rows)],
    )


@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
def test_a_sign_in_completes_while_an_import_is_parsing(
    app, client, held, tmp_path, large
):  # type: ignore[no-untyped-def]
    # A large export (over SPOOL_IN_MEMORY) keeps its validated records on disk until
    # the transaction replays them; the memo pads 5,000 invoices past that size.
    memo = "m" * (exports.SPOOL_IN_MEMORY // 5000) if large else ""
    path = _export(tmp_path / "lock.csv", 5000, memo=memo)
    assert (path.stat().st_size > exports.SPOOL_IN_MEMORY) == large
    job = held(path)

    signed_in = threading.Event()
    failure: list[BaseException] = []

    def sign_in_now() -> None:
        try:
            sign_in(app, client, "a_parent")
            signed_in.set()
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)
            signed_in.set()

    signer = threading.Thread(target=sign_in_now, daemon=True)
    signer.start()
    # The import is still held in its parse: the sign-in must not wait for it.
    completed = signed_in.wait(WAIT)
    result = job.finish()
    signer.join(WAIT)
    assert completed, "the sign-in waited for the import's parse"
    assert not failure, failure
    assert client.get("/invoices").status_code == 200
    assert result.status == "applied", result.reason
    assert result.created == 5000


def test_an_import_applies_against_the_store_as_it_is_when_it_applies(
    store, portal_settings, held, tmp_path
):  # type: ignore[no-untyped-def]
    """A newer copy imported while an older file was parsing is not overwritten."""
    older = _export(tmp_path / "older.csv", 50, updated_at="2025-03-10T09:00:00")
    newer = write_csv(
        tmp_path / "newer.csv",
        header_without_lines(),
        [
            invoice_row(
                "LOCK-7", "Lockwood Ltd", "99.00", updated_at="2025-03-20T09:00:00"
            )
        ],
    )
    job = held(older)
    done = import_file(store, portal_settings, newer, source="books")
    assert done.status == "applied" and done.created == 1
    result = job.finish()
    assert result.status == "applied", result.reason
    assert result.created == 49
    assert any("older than the ones already stored" in w for w in result.warnings)
    with store.read() as conn:
        total = conn.execute(
            select(INVOICES.c.total_minor).where(
                INVOICES.c.number == "LOCK-7", INVOICES.c.source == "books"
            )
        ).scalar_one()
    assert total == 9900
