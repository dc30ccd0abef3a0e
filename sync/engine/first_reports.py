"""First reports: the day an export first reported what settled an invoice or used a credit.

Some exports say how much of an invoice is settled but not when: Xero's CSV and invoice
lists carry a paid amount or a balance and no payment records; a QuickBooks invoice may
show a balance of 0 with only one of its payments in the files. A statement dates such a
settlement on the day an export first reported it, so that day is kept here, with the
amount it was for, beside each invoice (what the feed says is settled) and credit note
(what the feed says is used, refunds included).

The day is the reporting version's own update time when its export gives one, else the
export's as-of time (the batch's). It stays put while later exports repeat the same
amount (a re-export must not move it) and moves only when the amount grows; a smaller
amount keeps it (what is left was reported then). Marks are not feed reports: the
amount leaves out what a paid mark adds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Date, and_, bindparam, case, func, or_, update

from schemas.tables import CREDIT_NOTES, INVOICES, utcnow
from sync.store.bulk import IN_CHUNK, chunked

I = INVOICES  # noqa: E741
C = CREDIT_NOTES
FIRST_REPORT_COLUMNS = {
    "invoice": ("reported_settled_minor", "settled_first_reported_on"),
    "credit_note": ("reported_used_minor", "used_first_reported_on"),
}


def first_report(kind: str, values: dict[str, Any]) -> tuple[Any, ...]:
    """The first-report columns of a record written for the first time (*values* as
    validated: no paid mark can concern a record the store did not have)."""
    if kind not in FIRST_REPORT_COLUMNS:
        return ()
    left = values["balance_minor" if kind == "invoice" else "remaining_minor"]
    if values["lifecycle"] != "issued" or left is None:
        return (None, None)
    moment = values["source_updated_at"]
    return (values["total_minor"] - left, moment.date() if moment else None)


def note_first_reports(
    conn: Connection,
    invoice_ids: Iterable[int],
    credit_note_ids: Iterable[int],
    *,
    batch_id: int,
    as_of: datetime | None,
) -> None:
    """Record, for the given records, the day their reported settlement first grew.

    Runs after the batch's derived figures are final (``refresh_derived``), over the
    records the batch updated or re-derived (inserts carry ``first_report``'s values).
    """
    day = (as_of or utcnow()).date()
    for table, ids, reported, first, amount, known in (
        (
            I,
            invoice_ids,
            I.c.reported_settled_minor,
            I.c.settled_first_reported_on,
            I.c.total_minor - I.c.balance_minor - I.c.marked_excess_minor,
            I.c.balance_minor,
        ),
        (
            C,
            credit_note_ids,
            C.c.reported_used_minor,
            C.c.used_first_reported_on,
            C.c.total_minor - C.c.remaining_minor,
            C.c.remaining_minor,
        ),
    ):
        # A version this batch wrote carries its own time (its update time, else the
        # batch's as-of); a record the batch only re-derived was reported by the batch.
        reported_on = case(
            (
                and_(
                    table.c.last_batch_id == batch_id,
                    table.c.source_updated_at.is_not(None),
                ),
                func.date(table.c.source_updated_at, type_=Date),
            ),
            else_=day,
        )
        stmt = (
            update(table)
            .where(
                table.c.id.in_(bindparam("ids", expanding=True)),
                table.c.lifecycle == "issued",
                known.is_not(None),
                or_(reported.is_(None), reported != amount),
            )
            .values(
                {
                    # Every SET expression reads the row as it was (SQL semantics).
                    first: case(
                        (or_(reported.is_(None), amount > reported), reported_on),
                        else_=first,
                    ),
                    reported: amount,
                }
            )
        )
        for chunk in chunked(sorted(set(ids)), IN_CHUNK):
            conn.execute(stmt, {"ids": list(chunk)})
