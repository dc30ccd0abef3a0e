"""Set-based writes: Core statements over the table constants, on every backend."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

from sqlalchemy import select

from schemas.tables import ACCOUNTS, IMPORT_BATCHES, INVOICES
from sync.store.bulk import allocate_ids, delete_where_in, insert_rows, update_rows


def test_importing_billfold_leaves_the_sqlite3_driver_as_it_was():
    """No module patches ``sqlite3``'s global adapters: another program using sqlite3
    in the same process keeps the driver it expects."""
    script = (
        "import sqlite3\n"
        "before = dict(sqlite3.adapters)\n"
        "import sync.store.bulk, sync.engine.pipeline, sync.cli, portal\n"
        "assert dict(sqlite3.adapters) == before, set(sqlite3.adapters) ^ set(before)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_bulk_rows_round_trip_dates_times_and_money(store):
    when = datetime(2024, 3, 5, 14, 30, 15, 123456)
    with store.write() as conn:
        [batch_id] = allocate_ids(conn, IMPORT_BATCHES, 1)
        conn.execute(
            IMPORT_BATCHES.insert().values(
                id=batch_id, source="s", file_name="f", sha256="x", size=1,
                status="applied",
            )
        )  # fmt: skip
        [account_id] = allocate_ids(conn, ACCOUNTS, 1)
        insert_rows(
            conn,
            ACCOUNTS,
            ("id", "source", "external_key", "name", "portal_enabled", "created_at"),
            [(account_id, "s", "C1", "Bayview Café", False, when)],
        )
        ids = allocate_ids(conn, INVOICES, 2)
        columns = ("id", "source", "external_id", "number", "account_id", "currency",
                   "issue_date", "total_minor", "lifecycle", "status",
                   "marked_excess_minor", "content_hash", "source_updated_at")  # fmt: skip
        insert_rows(
            conn,
            INVOICES,
            columns,
            [
                (ids[0], "s", "1", "1", account_id, "USD", date(2024, 2, 29),
                 2**40, "issued", "open", 0, "h", when),
                (ids[1], "s", "2", "2", account_id, "USD", None, 5, "issued",
                 "open", 0, "h", None),
            ],
        )  # fmt: skip
        update_rows(
            conn, INVOICES, ("number", "due_date"), [("1A", date(2024, 3, 31), ids[0])]
        )
        delete_where_in(conn, INVOICES, "id", [ids[1]])
    with store.read() as conn:
        rows = conn.execute(
            select(
                INVOICES.c.number, INVOICES.c.issue_date, INVOICES.c.due_date,
                INVOICES.c.total_minor, INVOICES.c.source_updated_at,
            )
        ).all()  # fmt: skip
        created = conn.execute(select(ACCOUNTS.c.created_at)).scalar_one()
    assert [tuple(r) for r in rows] == [
        ("1A", date(2024, 2, 29), date(2024, 3, 31), 2**40, when)
    ]
    assert created == when
    assert ids[1] == ids[0] + 1
