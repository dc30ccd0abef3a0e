from datetime import date

import pytest

from schemas.settlement import (
    is_overdue,
    settle_credit_note,
    settle_invoice,
    status_label,
)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # the source's balance is the first fact used
        ({"feed_balance": 0}, (None, None, 10000, 0, "paid")),
        (
            {"feed_balance": 4000, "feed_paid": 6000},
            (6000, 0, 6000, 4000, "partially_paid"),
        ),
        ({"feed_balance": 10000}, (0, 0, 0, 10000, "unpaid")),
        # paid and credited amounts without a balance
        ({"feed_paid": 7000, "feed_credited": 3000}, (7000, 3000, 10000, 0, "paid")),
        # allocations when the source links payments to invoices
        (
            {"alloc_cash": 2500, "alloc_credit": 0},
            (2500, 0, 2500, 7500, "partially_paid"),
        ),
        # a paid flag (IIF PAID=Y) settles the whole total without a cash figure
        ({"paid_flag": True}, (None, None, 10000, 0, "paid")),
        ({"paid_flag": False}, (0, 0, 0, 10000, "unpaid")),
        # nothing said: unknown, never zero
        ({}, (None, None, None, None, "unknown")),
        ({"paid_flag": None}, (None, None, None, None, "unknown")),
    ],
)
def test_settle_invoice_from_facts(facts, expected):
    figures = settle_invoice(total=10000, lifecycle="issued", **facts)
    assert (
        figures.paid,
        figures.credited,
        figures.settled,
        figures.balance,
        figures.status,
    ) == expected


def test_balance_and_allocations_split_cash_from_credit():
    f = settle_invoice(
        total=33881,
        lifecycle="issued",
        feed_balance=0,
        alloc_cash=28881,
        alloc_credit=5000,
    )
    assert (f.paid, f.credited, f.status) == (28881, 5000, "paid")


def test_paid_mark_counts_as_max_never_sum():
    f = settle_invoice(
        total=10000, lifecycle="issued", feed_balance=6000, feed_paid=4000, marked=10000
    )
    assert (f.settled, f.balance, f.status, f.settled_by, f.marked_excess) == (
        10000,
        0,
        "paid",
        "mark",
        6000,
    )
    assert f.paid == 10000
    later = settle_invoice(
        total=10000, lifecycle="issued", feed_balance=0, feed_paid=10000, marked=10000
    )
    assert (later.settled, later.paid, later.settled_by, later.marked_excess) == (
        10000,
        10000,
        "feed",
        0,
    )


def test_mark_on_an_invoice_the_feed_cannot_settle():
    f = settle_invoice(total=10000, lifecycle="issued", marked=2500)
    assert (f.paid, f.balance, f.status) == (2500, 7500, "partially_paid")


@pytest.mark.parametrize("lifecycle", ["void", "draft", "deleted"])
def test_lifecycle_overrides_money(lifecycle):
    f = settle_invoice(total=10000, lifecycle=lifecycle, feed_balance=10000)
    assert f.status == lifecycle


def test_overpaid_invoice_shows_no_negative_balance():
    f = settle_invoice(total=10000, lifecycle="issued", feed_balance=-500)
    assert (f.balance, f.status) == (0, "paid")


def test_credit_note_status():
    assert (
        settle_credit_note(total=7500, lifecycle="issued", feed_remaining=7500).status
        == "open"
    )
    assert (
        settle_credit_note(total=7500, lifecycle="issued", feed_remaining=2500).status
        == "partially_applied"
    )
    assert (
        settle_credit_note(total=7500, lifecycle="issued", alloc_applied=7500).status
        == "applied"
    )
    assert settle_credit_note(total=7500, lifecycle="issued").remaining is None
    assert (
        settle_credit_note(total=7500, lifecycle="void", feed_remaining=7500).remaining
        == 0
    )


def test_overdue_is_computed_at_read_time():
    today = date(2025, 6, 30)
    assert is_overdue("unpaid", date(2025, 6, 29), today)
    assert not is_overdue("unpaid", date(2025, 6, 30), today)
    assert not is_overdue("paid", date(2025, 1, 1), today)
    assert not is_overdue("unknown", date(2025, 1, 1), today)
    # Overdue is a flag beside the status, never the status itself.
    assert is_overdue("partially_paid", date(2025, 1, 1), today)
    assert status_label("partially_paid", True) == "Partially paid (overdue)"
