"""A payment received now becomes a paid mark (sync.mark_plans); a mark that changes
nothing is refused (sync.marks); bulk lines are split where the office meant."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from sync.errors import UsageError
from sync.ledger.bulk_marks import read_bulk_lines, separator
from sync.ledger.mark_plans import FiguresChanged, plan_payment, record_payment
from sync.ledger.marks import claim_payment, confirm_claim, mark_paid
from tests.sync.ledger.test_marks import ADMIN, feed, invoice, marks  # noqa: F401

DAY = date(2025, 6, 10)


def test_a_payment_received_now_is_added_to_what_is_settled(store, feed):  # noqa: F811
    feed("60.00", "2025-06-05T00:00:00Z", paid="40.00")
    with store.read() as conn:
        plan = plan_payment(conn, invoice(store)["id"], 2500)
    assert (plan.balance_now, plan.settled_after, plan.balance_after) == (
        6000,
        6500,
        3500,
    )
    with store.write() as conn:
        record_payment(conn, plan.invoice_id, 2500, paid_on=DAY, actor=ADMIN)
    assert marks(store) == [("active", 6500)]
    assert (invoice(store)["status"], invoice(store)["balance_minor"]) == (
        "partially_paid",
        3500,
    )


def test_a_mark_at_or_below_what_is_settled_is_refused_and_changes_nothing(
    store,
    feed,  # noqa: F811
):
    # The issue: "Partly: total received so far" with 30.00 on an invoice the feed
    # shows 40.00 paid said "Marked paid" and changed nothing.
    feed("60.00", "2025-06-05T00:00:00Z", paid="40.00")
    with store.write() as conn, pytest.raises(UsageError) as caught:
        mark_paid(
            conn, invoice(store)["id"], paid_on=DAY, actor=ADMIN, amount_minor=3000
        )
    assert "already has $40.00 of $100.00 settled" in str(caught.value)
    assert "would change nothing" in str(caught.value)
    assert marks(store) == []
    with store.write() as conn, pytest.raises(UsageError, match="change nothing"):
        mark_paid(
            conn, invoice(store)["id"], paid_on=DAY, actor=ADMIN, amount_minor=4000
        )
    assert marks(store) == []


def test_payments_above_the_open_balance_or_on_a_paid_invoice_are_refused(
    store,
    feed,  # noqa: F811
):
    feed("60.00", "2025-06-05T00:00:00Z", paid="40.00")
    invoice_id = invoice(store)["id"]
    with store.read() as conn:
        with pytest.raises(UsageError, match="more than the open balance"):
            plan_payment(conn, invoice_id, 6001)
        with pytest.raises(UsageError, match="more than 0"):
            plan_payment(conn, invoice_id, 0)
        assert plan_payment(conn, invoice_id, None).received == 6000  # in full
    with store.write() as conn:
        record_payment(conn, invoice_id, None, paid_on=DAY, actor=ADMIN)
    with store.read() as conn, pytest.raises(UsageError, match="already paid in full"):
        plan_payment(conn, invoice_id, None)
    assert marks(store) == [("active", 10000)]


def test_a_confirmation_against_stale_figures_records_nothing(store, feed):  # noqa: F811
    invoice_id = invoice(store)["id"]
    with store.read() as conn:
        seen = plan_payment(conn, invoice_id, 4000).settled_now
    for attempt in range(2):  # the same confirmation twice (a double submit)
        with store.write() as conn:
            if attempt:
                with pytest.raises(FiguresChanged, match="changed since you checked"):
                    record_payment(
                        conn, invoice_id, 4000, paid_on=DAY, actor=ADMIN,
                        settled_was=seen,
                    )  # fmt: skip
            else:
                record_payment(
                    conn, invoice_id, 4000, paid_on=DAY, actor=ADMIN, settled_was=seen
                )
    assert invoice(store)["balance_minor"] == 6000


def test_claims_above_the_balance_due_are_refused_and_confirming_a_paid_one_too(
    store,
    feed,  # noqa: F811
):
    feed("60.00", "2025-06-05T00:00:00Z", paid="40.00")
    inv = invoice(store)
    with store.write() as conn:
        contact = conn.execute(
            text(
                "INSERT INTO contact (email, created_at) "
                "VALUES ('c@example.com', CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar_one()
        with pytest.raises(UsageError, match="at most the balance due, \\$60.00"):
            claim_payment(
                conn, inv["id"], contact, amount_minor=6001, paid_on=DAY,
                reference=None, note=None,
            )  # fmt: skip
        claim = claim_payment(
            conn, inv["id"], contact, amount_minor=6000, paid_on=DAY,
            reference=None, note=None,
        )  # fmt: skip
        mark_paid(conn, inv["id"], paid_on=DAY, actor=ADMIN)
        with pytest.raises(UsageError, match="already paid in full"):
            confirm_claim(conn, claim, ADMIN)
    assert marks(store) == [("active", 10000)]


@pytest.mark.parametrize(
    ("pasted", "cells"),
    [
        ("A-100,40.00,2025-06-01,cheque,991", ("A-100", "40.00", "2025-06-01", "cheque", "991")),
        ('A-100,"8,50",2025-06-01', ("A-100", "8,50", "2025-06-01", "", "")),
        ("A-100;8,50;2025-06-01;card;x", ("A-100", "8,50", "2025-06-01", "card", "x")),
        ("A-100\t1.234,50\t2025-06-01", ("A-100", "1.234,50", "2025-06-01", "", "")),
        ('A-100,,,cheque,"ref, with comma"', ("A-100", "", "", "cheque", "ref, with comma")),
    ],
)  # fmt: skip
def test_bulk_lines_split_where_the_office_meant(pasted, cells):
    (line,) = read_bulk_lines(f"number,amount,date,method,reference\n{pasted}\n")
    assert line.problem is None
    assert (
        line.number,
        line.amount,
        line.paid_on,
        line.method,
        line.reference,
    ) == cells
    assert line.line == 2


@pytest.mark.parametrize(
    ("pasted", "says"),
    [
        ("A-100,8,50,2025-06-01", 'put it in double quotes ("8,50")'),
        ("A-100,1,234.50,2025-06-01", 'double quotes ("1,234.50")'),
        ("A-100,8,50", 'double quotes ("8,50")'),
        ("A-100,40.00,2025-06-01,cheque,ref,extra", "more than 5 columns"),
    ],
)
def test_a_bulk_line_split_at_an_amount_s_comma_is_refused_never_read_as_8(
    pasted, says
):
    (line,) = read_bulk_lines(pasted)
    assert line.problem is not None and says in line.problem


def test_each_line_s_separator_is_a_tab_else_a_semicolon_else_a_comma():
    assert separator("A-2\t5,00;x") == "\t"
    assert separator("A-1;5,00") == ";"
    assert separator('A-1,"5,00",x;y') == ";"
    assert separator('A-1,"5;00"') == ","
    assert separator("A-1") == ","
