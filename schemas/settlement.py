"""Settlement rules: how facts add up to an invoice's or credit note's figures and status.

The store keeps what the billing system said (totals, balances, paid flags, allocations)
and what an admin asserted (paid marks). These pure functions are the rules that turn
those facts into "paid", "balance" and "status"; ``sync.ledger.figures`` is the one
place that gathers the facts from the store and applies them, so the CLI, the portal
and the store's derived columns can never disagree. ``None`` means unknown and stays
unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

INVOICE_STATUSES = (
    "draft",
    "void",
    "deleted",
    "unknown",
    "unpaid",
    "partially_paid",
    "paid",
)
CREDIT_STATUSES = (
    "draft",
    "void",
    "deleted",
    "unknown",
    "open",
    "partially_applied",
    "applied",
)
OPEN_INVOICE_STATUSES = ("unpaid", "partially_paid")
HIDDEN_LIFECYCLES = ("draft", "deleted")

STATUS_LABELS = {
    "draft": "Draft",
    "void": "Void",
    "deleted": "Deleted",
    "unknown": "Balance not reported",
    "unpaid": "Unpaid",
    "partially_paid": "Partially paid",
    "paid": "Paid",
    "overdue": "Overdue",
    "open": "Open",
    "partially_applied": "Partly used",
    "applied": "Used",
}


@dataclass(frozen=True, slots=True)
class InvoiceFigures:
    """What an invoice's facts add up to (minor units; None = unknown)."""

    paid: int | None
    credited: int | None
    settled: int | None
    balance: int | None
    status: str
    settled_by: str | None
    marked_excess: int = 0


def _add(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return None
    return a + b


def settle_invoice(
    *,
    total: int,
    lifecycle: str,
    feed_balance: int | None = None,
    feed_paid: int | None = None,
    feed_credited: int | None = None,
    paid_flag: bool | None = None,
    alloc_cash: int | None = None,
    alloc_credit: int | None = None,
    marked: int | None = None,
) -> InvoiceFigures:
    """Return an invoice's paid, credited, balance and status.

    The feed's settled amount comes from the first fact the source gave: its balance,
    else its paid and credited amounts, else the allocations applied to it (``alloc_*``
    is None when the source carries none), else a paid flag. An admin's paid mark counts
    as ``max(feed, mark)``, never the sum, so a payment that later arrives in the feed is
    not counted twice.
    """
    cash: int | None
    credit: int | None
    if feed_balance is not None:
        reported = total - feed_balance
        feed_settled: int | None = reported
        cash, credit = feed_paid, feed_credited
        if reported == 0:
            cash, credit = 0, 0
        elif cash is None and credit is not None:
            cash = reported - credit
        elif credit is None and cash is not None:
            credit = reported - cash
        elif (
            cash is None
            and alloc_cash is not None
            and alloc_credit is not None
            and alloc_cash + alloc_credit == feed_settled
        ):
            cash, credit = alloc_cash, alloc_credit
    elif feed_paid is not None or feed_credited is not None:
        cash, credit = feed_paid or 0, feed_credited or 0
        feed_settled = cash + credit
    elif alloc_cash is not None or alloc_credit is not None:
        cash, credit = alloc_cash or 0, alloc_credit or 0
        feed_settled = cash + credit
    elif paid_flag:
        feed_settled, cash, credit = total, None, None
    elif paid_flag is False:
        feed_settled, cash, credit = 0, 0, 0
    else:
        feed_settled, cash, credit = None, None, None

    settled, settled_by = feed_settled, ("feed" if feed_settled is not None else None)
    excess = 0
    if marked is not None and (feed_settled is None or marked > feed_settled):
        excess = marked - (feed_settled or 0)
        settled, settled_by = marked, "mark"
        if feed_settled is None:
            cash, credit = marked, 0
        else:
            cash = _add(cash, excess)

    if lifecycle in ("draft", "void", "deleted"):
        status = lifecycle
    elif settled is None:
        status = "unknown"
    elif settled >= total:
        status = "paid"
    elif settled <= 0:
        status = "unpaid"
    else:
        status = "partially_paid"
    balance = None if settled is None else max(total - settled, 0)
    if lifecycle in ("void", "deleted"):
        balance = 0
    return InvoiceFigures(cash, credit, settled, balance, status, settled_by, excess)


@dataclass(frozen=True, slots=True)
class CreditFigures:
    """What a credit note's facts add up to (minor units; None = unknown)."""

    applied: int | None
    remaining: int | None
    status: str


def settle_credit_note(
    *,
    total: int,
    lifecycle: str,
    feed_remaining: int | None = None,
    alloc_applied: int | None = None,
) -> CreditFigures:
    """Return a credit note's applied and remaining amounts and its status."""
    if feed_remaining is not None:
        remaining: int | None = feed_remaining
    elif alloc_applied is not None:
        remaining = max(total - alloc_applied, 0)
    else:
        remaining = None
    applied = None if remaining is None else total - remaining
    if lifecycle in ("draft", "void", "deleted"):
        return CreditFigures(applied, 0, lifecycle)
    if remaining is None:
        status = "unknown"
    elif remaining <= 0:
        status = "applied"
    elif remaining >= total:
        status = "open"
    else:
        status = "partially_applied"
    return CreditFigures(applied, remaining, status)


def is_overdue(status: str, due_date: date | None, today: date) -> bool:
    """Return True when an open invoice is past its due date (computed at read time)."""
    return status in OPEN_INVOICE_STATUSES and due_date is not None and due_date < today


def status_label(status: str, overdue: bool = False) -> str:
    """Return the words a person reads for *status*; overdue is a flag beside it, never
    a status of its own (a partly paid invoice past its due date is still partly paid)."""
    label = STATUS_LABELS.get(status, status)
    return f"{label} (overdue)" if overdue else label
