"""One measurement in its own process: ``python -m tests.benchmarks.worker KIND ...``.

Each run prints one JSON object (``seconds`` of the timed part, ``rss_mb`` peak resident
memory of this process, plus what the measurement adds), so the runner can compare
methods on equal terms: a fresh interpreter each, nothing warm but the page cache.

Kinds:

* ``import FILE``: billfold's pipeline (``sync.engine.pipeline.import_file``) into the store
  named by ``BILLFOLD_DATABASE_URL``/``BILLFOLD_DATA_DIR``, schema created before the
  clock starts; reports the pipeline's phases too.
* ``floor-sqlite FILE DB`` / ``floor-copy FILE URL``: the machine's floor for the same
  rows: ``csv.reader`` + ``Decimal`` + pence, then stdlib ``sqlite3.executemany`` (or
  psycopg ``COPY``) of the same invoice and line rows into billfold's own tables, in one
  transaction.
* ``hash FILE``: SHA-256 of the file in 1 MiB reads.
* ``dlt FILE DIR``: the peer: dlt loading the CSV rows into DuckDB through parquet,
  ``write_disposition="merge"`` on (InvoiceNumber, line_no).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import resource
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROWS_PER_WRITE = 2000


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the peak resident set of this process.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(**values: Any) -> None:
    values["rss_mb"] = round(_rss_mb(), 1)
    print(json.dumps(values), flush=True)


# -- billfold ------------------------------------------------------------------------


def run_import(path: Path, profile: Path | None = None) -> None:
    from sync.config import load_settings
    from sync.engine.pipeline import import_file
    from sync.store import open_store
    from sync.store.migrate import upgrade

    settings = load_settings(None)
    store = open_store(settings)
    upgrade(store)  # a new PostgreSQL schema is migrated as `billfold db upgrade` would
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = import_file(store, settings, path)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        profiler.stop()
        profile.write_text(profiler.output_text(unicode=False, color=False))
    store.dispose()
    _emit(
        seconds=seconds,
        cpu=cpu,
        status=result.status,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        rejected=len(result.rejected),
        phases=result.phases,
    )


# -- the floor -----------------------------------------------------------------------

INVOICE_COLUMNS = (
    "id", "source", "external_id", "number", "account_id", "currency", "issue_date",
    "due_date", "subtotal_minor", "tax_minor", "total_minor", "lifecycle", "reference",
    "content_hash", "feed_paid_minor", "feed_credited_minor", "feed_balance_minor",
    "paid_minor", "credited_minor", "balance_minor", "status", "marked_excess_minor",
    "first_batch_id", "last_batch_id",
)  # fmt: skip
LINE_COLUMNS = (
    "invoice_id", "position", "description", "item", "quantity", "unit_price",
    "amount_minor", "tax_minor",
)  # fmt: skip
ACCOUNT_COLUMNS = ("id", "source", "external_key", "name", "email", "portal_enabled",
                   "created_at")  # fmt: skip
LIFECYCLE = {"Paid": "issued", "Awaiting Payment": "issued", "Voided": "void",
             "Draft": "draft"}  # fmt: skip


def _pence(text: str) -> int | None:
    return int(Decimal(text) * 100) if text else None


def _iso(dmy: str) -> str | None:
    return f"{dmy[6:10]}-{dmy[3:5]}-{dmy[0:2]}" if dmy else None


def floor_rows(
    path: Path,
) -> Iterator[tuple[list[tuple], list[tuple], list[tuple]]]:
    """Yield chunks of (new accounts, invoice rows, line rows) read from a Xero CSV."""
    accounts: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        c = {name: i for i, name in enumerate(next(reader))}
        contact, email, number = c["ContactName"], c["EmailAddress"], c["InvoiceNumber"]
        new_accounts: list[tuple] = []
        invoices: list[tuple] = []
        lines: list[tuple] = []
        last = None
        invoice_id = position = 0
        for row in reader:
            if row[number] != last:
                if len(invoices) >= ROWS_PER_WRITE:
                    yield new_accounts, invoices, lines
                    new_accounts, invoices, lines = [], [], []
                last = row[number]
                invoice_id += 1
                position = 0
                name = row[contact]
                account = accounts.get(name)
                if account is None:
                    account = accounts[name] = len(accounts) + 1
                    new_accounts.append(
                        (account, "floor", name, name, row[email], False,
                         "2025-01-01 00:00:00")
                    )  # fmt: skip
                total, tax = _pence(row[c["Total"]]), _pence(row[c["TaxTotal"]])
                paid = _pence(row[c["InvoiceAmountPaid"]])
                due = _pence(row[c["InvoiceAmountDue"]])
                status = row[c["Status"]]
                invoices.append(
                    (invoice_id, "floor", last, last, account, row[c["Currency"]],
                     _iso(row[c["InvoiceDate"]]), _iso(row[c["DueDate"]]),
                     total - tax, tax, total, LIFECYCLE[status], row[c["Reference"]],
                     "", paid, 0, due, paid, 0, due, status.lower(), 0, 1, 1)
                )  # fmt: skip
            position += 1
            lines.append(
                (invoice_id, position, row[c["Description"]], row[c["InventoryItemCode"]],
                 str(Decimal(row[c["Quantity"]])), str(Decimal(row[c["UnitAmount"]])),
                 _pence(row[c["LineAmount"]]), _pence(row[c["TaxAmount"]]))
            )  # fmt: skip
        yield new_accounts, invoices, lines


def _insert(columns: tuple[str, ...], table: str, mark: str) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(mark for _ in columns)})"
    )


def floor_sqlite(path: Path, db: Path) -> None:
    _migrated(f"sqlite:///{db}")
    started, cpu = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(db, isolation_level=None)
    # The store's own settings (sync/store/__init__.py): WAL, synchronous=FULL, foreign keys.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN IMMEDIATE")
    count = lines_count = 0
    for accounts, invoices, lines in floor_rows(path):
        conn.executemany(_insert(ACCOUNT_COLUMNS, "account", "?"), accounts)
        conn.executemany(_insert(INVOICE_COLUMNS, "invoice", "?"), invoices)
        conn.executemany(_insert(LINE_COLUMNS, "invoice_line", "?"), lines)
        count += len(invoices)
        lines_count += len(lines)
    conn.execute("COMMIT")
    conn.close()
    _emit(
        seconds=time.perf_counter() - started,
        cpu=time.process_time() - cpu,
        invoices=count,
        lines=lines_count,
    )


def floor_copy(path: Path, url: str) -> None:
    import psycopg

    _migrated(url)
    dsn, _, options = url.partition("?options=")
    started, cpu = time.perf_counter(), time.process_time()
    with psycopg.connect(
        dsn, options=options.replace("%3D", "=") if options else None
    ) as conn:
        count = lines_count = 0
        with conn.cursor() as cur:
            for accounts, invoices, lines in floor_rows(path):
                for table, columns, rows in (
                    ("account", ACCOUNT_COLUMNS, accounts),
                    ("invoice", INVOICE_COLUMNS, invoices),
                    ("invoice_line", LINE_COLUMNS, lines),
                ):
                    if rows:
                        with cur.copy(
                            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                        ) as copy:
                            for row in rows:
                                copy.write_row(row)
                count += len(invoices)
                lines_count += len(lines)
        conn.commit()
    _emit(
        seconds=time.perf_counter() - started,
        cpu=time.process_time() - cpu,
        invoices=count,
        lines=lines_count,
    )


def _migrated(url: str) -> None:
    from sync.store import Store
    from sync.store.migrate import upgrade

    store = Store(url)
    upgrade(store)
    store.dispose()


# -- hashing -------------------------------------------------------------------------


def hash_file(path: Path) -> None:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    _emit(seconds=time.perf_counter() - started, sha256=digest.hexdigest())


# -- the peer ------------------------------------------------------------------------


def run_dlt(path: Path, folder: Path) -> None:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ["DATA_WRITER__DISABLE_COMPRESSION"] = "true"
    import dlt

    def rows() -> Iterator[dict[str, Any]]:
        with path.open(newline="", encoding="utf-8") as file:
            last, position = None, 0
            for row in csv.DictReader(file):
                number = row["InvoiceNumber"]
                position = position + 1 if number == last else 1
                last = number
                row["line_no"] = position
                yield row

    resource_ = dlt.resource(
        rows,
        name="invoice_lines",
        primary_key=("invoice_number", "line_no"),
        write_disposition="merge",
    )
    pipeline = dlt.pipeline(
        pipeline_name="billfold_peer",
        destination=dlt.destinations.duckdb(str(folder / "store.duckdb")),
        dataset_name="billing",
        pipelines_dir=str(folder / "pipelines"),
    )
    started = time.perf_counter()
    pipeline.run(resource_(), loader_file_format="parquet")
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        count = client.execute_sql("SELECT count(*) FROM invoice_lines")[0][0]
    _emit(seconds=seconds, rows=count)


KINDS: dict[str, Callable[..., None]] = {
    "import": lambda f, profile=None: run_import(
        Path(f), Path(profile) if profile else None
    ),
    "floor-sqlite": lambda f, db: floor_sqlite(Path(f), Path(db)),
    "floor-copy": lambda f, url: floor_copy(Path(f), url),
    "hash": lambda f: hash_file(Path(f)),
    "dlt": lambda f, folder: run_dlt(Path(f), Path(folder)),
}


if __name__ == "__main__":
    KINDS[sys.argv[1]](*sys.argv[2:])
