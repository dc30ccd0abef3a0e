"""A write that need not wait for the disk (a page view in the audit log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select, text

from schemas.tables import AUDIT_EVENTS
from sync.store import Store
from sync.store.audit import record
from sync.store.migrate import upgrade


def test_a_lazy_write_commits_and_hands_back_a_durable_connection(store: Store) -> None:
    upgrade(store)
    returned: list[Any] = []

    def on_checkin(dbapi_connection: Any, _record: Any) -> None:
        if store.is_sqlite:
            cursor = dbapi_connection.cursor()
            returned.append(cursor.execute("PRAGMA synchronous").fetchone()[0])
            cursor.close()

    event.listen(store.engine, "checkin", on_checkin)
    try:
        with store.write(ledger=False, durable=False) as conn:
            record(conn, "contact:1", "view_invoice", record_kind="invoice")
            if store.is_sqlite:  # 1 = NORMAL: this commit does not wait for fsync
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            else:
                setting = conn.execute(text("SHOW synchronous_commit")).scalar()
                assert setting == "off"
        with store.read() as conn:
            assert (
                conn.execute(
                    select(func.count()).select_from(AUDIT_EVENTS)
                ).scalar_one()
                == 1
            )
            if not store.is_sqlite:  # SET LOCAL ended with its transaction
                assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    finally:
        event.remove(store.engine, "checkin", on_checkin)
    if store.is_sqlite:  # 2 = FULL: what every other writer of the pool relies on
        assert returned and all(mode == 2 for mode in returned)
