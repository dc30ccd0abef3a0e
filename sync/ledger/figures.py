"""Derived figures: an invoice's paid, credited, balance and status; a credit note's
applied, remaining and status. The one place they are computed from stored facts.

Facts are each record's own feed columns, the live allocations applied to it
(``sync.ledger.allocations``) and the office's active paid marks; the rules that turn
facts into figures are ``schemas.settlement``'s pure functions. The store keeps the
figures in derived columns, rewritten here in the same transaction as any fact they
depend on: after an import's batch, a mark, a mark's undo or a conflict's resolution.
Everything else (balances, statements, the portal, marks judging feeds) reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    select,
)

from schemas.settlement import (
    CreditFigures,
    InvoiceFigures,
    settle_credit_note,
    settle_invoice,
)
from schemas.tables import (
    ALLOCATIONS,
    CREDIT_NOTES,
    INVOICES,
    PAID_MARKS,
)
from sync.ledger.allocations import LIVE_ALLOCATION, live_allocations
from sync.store.bulk import (
    IN_CHUNK,
    chunked,
    update_rows,
)

ACTIVE_MARK_STATES = ("active", "conflicted")
_ALLOC = ALLOCATIONS


def invoice_figures(
    conn: Connection, invoice_ids: Iterable[int], *, with_marks: bool = True
) -> dict[int, tuple[Any, InvoiceFigures]]:
    """Return ``{id: (invoice row, figures)}`` computed from the invoices' facts.

    Facts are each invoice's own feed columns, the live allocations applied to it and,
    when *with_marks*, the admin's active paid marks (without them: what the feed alone
    says, which is how marks are judged against feeds).
    """
    alloc = _ALLOC
    sources_with_allocations = {
        row[0] for row in conn.execute(select(alloc.c.source).distinct())
    }
    inv = INVOICES
    mark = PAID_MARKS
    out: dict[int, tuple[Any, InvoiceFigures]] = {}
    for chunk in chunked(sorted(set(invoice_ids)), IN_CHUNK):
        ids = {"ids": list(chunk)}
        sums: dict[tuple[int, str], int] = {}
        for row in conn.execute(
            select(alloc.c.invoice_id, alloc.c.kind, func.sum(alloc.c.amount_minor))
            .select_from(live_allocations())
            .where(
                LIVE_ALLOCATION,
                alloc.c.invoice_id.in_(bindparam("ids", expanding=True)),
            )
            .group_by(alloc.c.invoice_id, alloc.c.kind),
            ids,
        ):
            sums[(row[0], row[1])] = int(row[2])
        marks: dict[int, int] = {}
        if with_marks:
            marks = {
                row[0]: int(row[1])
                for row in conn.execute(
                    select(mark.c.invoice_id, func.max(mark.c.amount_minor))
                    .where(
                        mark.c.invoice_id.in_(bindparam("ids", expanding=True)),
                        mark.c.state.in_(ACTIVE_MARK_STATES),
                    )
                    .group_by(mark.c.invoice_id),
                    ids,
                )
            }
        for row in conn.execute(
            select(inv).where(inv.c.id.in_(bindparam("ids", expanding=True))), ids
        ):
            carries = row.source in sources_with_allocations
            figures = settle_invoice(
                total=row.total_minor,
                lifecycle=row.lifecycle,
                feed_balance=row.feed_balance_minor,
                feed_paid=row.feed_paid_minor,
                feed_credited=row.feed_credited_minor,
                paid_flag=row.paid_flag,
                alloc_cash=sums.get((row.id, "cash"), 0 if carries else None),
                alloc_credit=sums.get((row.id, "credit"), 0 if carries else None),
                marked=marks.get(row.id),
            )
            out[row.id] = (row, figures)
    return out


def refresh_derived(
    conn: Connection, invoice_ids: Iterable[int], credit_note_ids: Iterable[int] = ()
) -> None:
    """Recompute the derived columns of the given invoices and credit notes from facts.

    Rows whose figures did not change are not written.
    """
    changes = []
    for row_id, (row, f) in invoice_figures(conn, invoice_ids).items():
        new = (f.paid, f.credited, f.balance, f.status, f.settled_by, f.marked_excess)
        old = (
            row.paid_minor,
            row.credited_minor,
            row.balance_minor,
            row.status,
            row.settled_by,
            row.marked_excess_minor,
        )
        if new != old:
            changes.append((*new, row_id))
    update_rows(
        conn,
        INVOICES,
        (
            "paid_minor",
            "credited_minor",
            "balance_minor",
            "status",
            "settled_by",
            "marked_excess_minor",
        ),
        changes,
    )
    refresh_credit_notes(conn, credit_note_ids)


def credit_note_figures(
    conn: Connection, credit_note_ids: Iterable[int]
) -> dict[int, tuple[Any, CreditFigures]]:
    """Return ``{id: (credit note row, figures)}`` computed from the notes' facts.

    Facts are each note's own feed column (what remains, as the source says) and the
    live allocations that applied it.
    """
    alloc = _ALLOC
    sources_with_allocations = {
        row[0] for row in conn.execute(select(alloc.c.source).distinct())
    }
    cn = CREDIT_NOTES
    out: dict[int, tuple[Any, CreditFigures]] = {}
    for chunk in chunked(sorted(set(credit_note_ids)), IN_CHUNK):
        applied = {
            row[0]: int(row[1])
            for row in conn.execute(
                select(alloc.c.credit_note_id, func.sum(alloc.c.amount_minor))
                .select_from(live_allocations())
                .where(
                    LIVE_ALLOCATION,
                    alloc.c.credit_note_id.in_(bindparam("ids", expanding=True)),
                    alloc.c.kind == "credit",
                )
                .group_by(alloc.c.credit_note_id),
                {"ids": list(chunk)},
            )
        }
        for row in conn.execute(
            select(
                cn.c.id, cn.c.source, cn.c.total_minor, cn.c.lifecycle, cn.c.feed_remaining_minor,
                cn.c.applied_minor, cn.c.remaining_minor, cn.c.status,
            ).where(cn.c.id.in_(bindparam("ids", expanding=True))),
            {"ids": list(chunk)},
        ):  # fmt: skip
            carries = row.source in sources_with_allocations
            out[row.id] = (
                row,
                settle_credit_note(
                    total=row.total_minor,
                    lifecycle=row.lifecycle,
                    feed_remaining=row.feed_remaining_minor,
                    alloc_applied=applied.get(row.id, 0 if carries else None),
                ),
            )
    return out


def refresh_credit_notes(conn: Connection, credit_note_ids: Iterable[int]) -> None:
    """Recompute the derived columns of the given credit notes; unchanged rows stay."""
    changes = []
    for row_id, (row, f) in credit_note_figures(conn, credit_note_ids).items():
        new = (f.applied, f.remaining, f.status)
        if new != (row.applied_minor, row.remaining_minor, row.status):
            changes.append((*new, row_id))
    update_rows(
        conn, CREDIT_NOTES, ("applied_minor", "remaining_minor", "status"), changes
    )


def feed_figures(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """Return the derived columns a new record's own feed facts give, before anything
    else is known (allocations, marks): the columns an import writes with the record,
    refreshed at the end of its batch."""
    if kind == "invoice":
        f = settle_invoice(
            total=values["total_minor"],
            lifecycle=values["lifecycle"],
            feed_balance=values["feed_balance_minor"],
            feed_paid=values["feed_paid_minor"],
            feed_credited=values["feed_credited_minor"],
            paid_flag=values["paid_flag"],
        )
        return {
            "paid_minor": f.paid, "credited_minor": f.credited,
            "balance_minor": f.balance, "status": f.status,
            "settled_by": f.settled_by, "marked_excess_minor": f.marked_excess,
        }  # fmt: skip
    c = settle_credit_note(
        total=values["total_minor"],
        lifecycle=values["lifecycle"],
        feed_remaining=values["feed_remaining_minor"],
    )
    return {
        "applied_minor": c.applied,
        "remaining_minor": c.remaining,
        "status": c.status,
    }


# -- reading the stored figures --------------------------------------------------------


def settled_by_feed(inv: Any) -> int | None:
    """What the feed says settled an invoice row: its settled amount less what only the
    office's mark adds (None when its balance is unknown)."""
    if inv.balance_minor is None:
        return None
    return inv.total_minor - inv.balance_minor - (inv.marked_excess_minor or 0)


def paid_by_feed(inv: Any) -> int | None:
    """The cash the feed says paid an invoice row (its paid figure less a mark's excess)."""
    if inv.paid_minor is None:
        return None
    return inv.paid_minor - (inv.marked_excess_minor or 0)
