"""Paid marks against feeds: DESIGN.md's precedence rules, conflicts, customer claims."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from schemas.tables import CONFLICTS, PAID_MARKS
from sync.errors import UsageError
from sync.ledger.marks import (
    claim_payment,
    confirm_claim,
    mark_paid,
    reject_claim,
    resolve_conflict,
    undo_mark,
)
from tests.helpers import header_without_lines, invoice_row, run_import, write_csv

ADMIN = "admin:office@example.com"


@pytest.fixture
def feed(store, settings, tmp_path):
    """Import invoice M1 (100.00) as the feed says it, at a given time."""
    n = [0]

    def send(
        balance: str,
        updated: str,
        *,
        total: str = "100.00",
        status: str = "",
        paid: str = "",
    ) -> None:
        n[0] += 1
        row = invoice_row(
            "M1",
            "Marked Co",
            total,
            balance_due=balance,
            updated_at=updated,
            status=status,
            amount_paid=paid,
        )
        result = run_import(
            store,
            settings,
            write_csv(tmp_path / f"feed{n[0]}.csv", header_without_lines(), [row]),
        )
        assert result.status == "applied", result

    send("100.00", "2025-06-01T00:00:00Z")
    return send


def invoice(store) -> dict:
    with store.read() as conn:
        return dict(
            conn.execute(text("SELECT * FROM invoice WHERE number = 'M1'"))
            .mappings()
            .one()
        )


def marks(store) -> list[tuple[str, int]]:
    with store.read() as conn:
        return [
            (r.state, r.amount_minor)
            for r in conn.execute(select(PAID_MARKS).order_by(PAID_MARKS.c.id))
        ]


def open_conflicts(store) -> list[str]:
    with store.read() as conn:
        t = CONFLICTS
        return [
            r.kind for r in conn.execute(select(t).where(t.c.resolved_at.is_(None)))
        ]


def mark(store, **kw) -> int:
    with store.write() as conn:
        return mark_paid(
            conn, invoice(store)["id"], paid_on=date(2025, 6, 10), actor=ADMIN, **kw
        )


def test_a_mark_settles_the_invoice_with_max_not_sum(store, feed):
    mark(store)
    inv = invoice(store)
    assert (inv["status"], inv["balance_minor"], inv["settled_by"]) == (
        "paid",
        0,
        "mark",
    )
    feed(
        "40.00", "2025-06-20T00:00:00Z", paid="60.00"
    )  # the feed now shows a part payment
    inv = invoice(store)
    assert (inv["status"], inv["balance_minor"], inv["paid_minor"]) == (
        "paid",
        0,
        10000,
    )
    assert marks(store) == [("active", 10000)]


def test_feed_later_paid_confirms_and_closes_the_mark(store, feed):
    mark(store)
    feed("0.00", "2025-06-30T00:00:00Z", paid="100.00")
    assert marks(store) == [("confirmed", 10000)]
    inv = invoice(store)
    assert (inv["status"], inv["settled_by"]) == ("paid", "feed")
    assert open_conflicts(store) == []


def test_feed_void_wins_and_raises_a_conflict(store, feed):
    mark(store)
    feed("0.00", "2025-06-30T00:00:00Z", status="void")
    inv = invoice(store)
    assert inv["status"] == "void"
    assert marks(store) == [("superseded", 10000)]
    assert open_conflicts(store) == ["feed_void"]


def test_feed_older_than_the_mark_changes_nothing(store, settings, feed, tmp_path):
    mark(store)
    feed(
        "100.00", "2025-05-01T00:00:00Z", total="100.00"
    )  # an export from before the mark
    feed("100.00", "2025-06-25T00:00:00Z")  # a later export that still lags
    inv = invoice(store)
    assert (inv["status"], inv["settled_by"]) == ("paid", "mark")
    assert marks(store) == [("active", 10000)]
    assert open_conflicts(store) == []


def test_feed_that_disagrees_is_a_conflict_and_never_flips_the_status(store, feed):
    feed("50.00", "2025-06-05T00:00:00Z", paid="50.00")
    mark(store)  # the office saw the rest paid
    feed(
        "100.00", "2025-06-20T00:00:00Z", paid="0.00"
    )  # the feed reverses the first payment
    inv = invoice(store)
    assert (inv["status"], inv["balance_minor"]) == ("paid", 0)
    assert marks(store) == [("conflicted", 10000)]
    assert open_conflicts(store) == ["feed_disagrees"]
    with store.read() as conn:
        conflict_id = conn.execute(select(CONFLICTS.c.id)).scalar_one()
    with store.write() as conn:
        resolve_conflict(conn, conflict_id, "accept_feed", ADMIN)
    inv = invoice(store)
    assert (inv["status"], inv["balance_minor"]) == ("unpaid", 10000)
    assert open_conflicts(store) == []


def test_keep_mark_resolves_and_later_lag_does_not_reopen(store, feed):
    feed("50.00", "2025-06-05T00:00:00Z", paid="50.00")
    mark(store)
    feed("100.00", "2025-06-20T00:00:00Z", paid="0.00")
    with store.read() as conn:
        conflict_id = conn.execute(select(CONFLICTS.c.id)).scalar_one()
    with store.write() as conn:
        resolve_conflict(conn, conflict_id, "keep_mark", ADMIN)
        with pytest.raises(UsageError):
            resolve_conflict(conn, conflict_id, "keep_mark", ADMIN)
    assert marks(store) == [("active", 10000)]
    feed("100.00", "2025-06-28T00:00:00Z", paid="0.00", total="100.00")
    assert open_conflicts(store) == []
    assert invoice(store)["status"] == "paid"


def test_undo_returns_to_the_feed(store, feed):
    mark_id = mark(store, amount_minor=3000)
    assert invoice(store)["status"] == "partially_paid"
    with store.write() as conn:
        undo_mark(conn, mark_id, ADMIN)
    assert invoice(store)["status"] == "unpaid"
    assert marks(store) == [("revoked", 3000)]


def test_marks_refuse_void_invoices_and_bad_amounts(store, feed):
    with pytest.raises(UsageError, match="at most its total"):
        mark(store, amount_minor=10001)
    feed("0.00", "2025-06-30T00:00:00Z", status="void")
    with pytest.raises(UsageError, match="is void"):
        mark(store)


def test_a_customer_claim_changes_nothing_until_confirmed(store, feed):
    inv = invoice(store)
    with store.write() as conn:
        contact = conn.execute(
            text(
                "INSERT INTO contact (email, created_at) VALUES ('c@example.com', CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar_one()
        claim = claim_payment(
            conn,
            inv["id"],
            contact,
            amount_minor=4000,
            paid_on=date(2025, 6, 12),
            reference="bank transfer 77",
            note=None,
        )
    assert invoice(store)["status"] == "unpaid"
    with store.write() as conn:
        confirm_claim(conn, claim, ADMIN)
        second = claim_payment(  # once the office has decided, another may wait
            conn,
            inv["id"],
            contact,
            amount_minor=1000,
            paid_on=date(2025, 6, 13),
            reference=None,
            note=None,
        )
        reject_claim(conn, second, ADMIN)
        with pytest.raises(UsageError):
            confirm_claim(conn, second, ADMIN)
    inv = invoice(store)
    assert (inv["status"], inv["balance_minor"]) == ("partially_paid", 6000)
    assert marks(store) == [("active", 4000)]
