"""A payment received now, as the office reports it, turned into a paid mark.

A ``PaidMark`` keeps the cumulative amount the office says is settled (``amount_minor``;
it counts as ``max(feed, mark)``: sync/marks.py). People think in payments: "40.00 came
in today". ``plan_payment`` converts one into the other and says what would change
(balance now, balance after) before anything is written. It refuses a payment of zero or
less, one above the open balance, and any payment on an invoice with nothing open, so a
mark that changes nothing is never recorded.

``record_payment`` plans again inside the write and refuses when the settled amount has
moved since the figures the person confirmed (a second click, a double-submitted form,
an import in between): a payment is never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection

from schemas.money import DEFAULT_LOCALE, format_money
from sync.errors import UsageError
from sync.ledger.figures import invoice_figures
from sync.ledger.marks import mark_paid


class FiguresChanged(UsageError):
    """The invoice's settled amount moved between the preview and the confirmation."""


@dataclass(frozen=True)
class PaymentPlan:
    """What recording one payment would do to one invoice (minor units)."""

    invoice_id: int
    number: str
    currency: str
    total: int
    settled_now: int  # feed or office mark; 0 where the billing system reports nothing
    settled_known: bool
    settled_by: str | None  # "feed", "mark" or None
    received: int
    in_full: bool

    @property
    def balance_now(self) -> int:
        return self.total - self.settled_now

    @property
    def settled_after(self) -> int:
        return self.settled_now + self.received

    @property
    def balance_after(self) -> int:
        return self.total - self.settled_after

    @property
    def status_after(self) -> str:
        return "paid" if self.balance_after == 0 else "partially_paid"


def plan_payment(
    conn: Connection,
    invoice_id: int,
    received_minor: int | None,
    *,
    earlier_minor: int = 0,
    locale: str = DEFAULT_LOCALE,
) -> PaymentPlan:
    """Plan a payment of *received_minor* (None: whatever is open, "paid in full").

    *earlier_minor* is what earlier lines of the same batch (bulk marks) already
    received on this invoice. Raises UsageError, in words for the office, when the
    payment cannot be recorded.
    """
    found = invoice_figures(conn, [invoice_id])
    if invoice_id not in found:
        raise UsageError(f"there is no invoice {invoice_id}")
    inv, figures = found[invoice_id]
    currency = inv.currency

    def money(minor: int) -> str:
        return format_money(minor, currency, locale=locale)

    if inv.lifecycle != "issued":
        raise UsageError(
            f"invoice {inv.number} is {inv.lifecycle}; only issued invoices can be "
            "marked paid"
        )
    settled = min((figures.settled or 0) + earlier_minor, inv.total_minor)
    open_minor = inv.total_minor - settled
    if open_minor <= 0:
        raise UsageError(
            f"invoice {inv.number} is already paid in full ({money(inv.total_minor)}), "
            "so marking it paid would change nothing. To correct an earlier mark, "
            "undo it first."
        )
    received = open_minor if received_minor is None else received_minor
    if received <= 0:
        raise UsageError(
            "enter the amount received now (more than 0), or choose paid in full"
        )
    if received > open_minor:
        raise UsageError(
            f"{money(received)} is more than the open balance of invoice "
            f"{inv.number}, {money(open_minor)}. Enter the payment received now, at "
            f"most {money(open_minor)}, or choose paid in full."
        )
    return PaymentPlan(
        invoice_id=invoice_id, number=inv.number, currency=currency,
        total=inv.total_minor, settled_now=settled,
        settled_known=figures.settled is not None, settled_by=figures.settled_by,
        received=received, in_full=received_minor is None,
    )  # fmt: skip


def record_payment(
    conn: Connection,
    invoice_id: int,
    received_minor: int | None,
    *,
    paid_on: date,
    actor: str,
    settled_was: int | None = None,
    method: str | None = None,
    reference: str | None = None,
    note: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> tuple[int, PaymentPlan]:
    """Record a payment received now as a paid mark; return (mark id, the plan).

    With *settled_was* (the settled amount the person saw in the preview), refuse with
    FiguresChanged when it is no longer the settled amount.
    """
    plan = plan_payment(conn, invoice_id, received_minor, locale=locale)
    if settled_was is not None and settled_was != plan.settled_now:
        was = format_money(settled_was, plan.currency, locale=locale)
        now = format_money(plan.settled_now, plan.currency, locale=locale)
        raise FiguresChanged(
            f"invoice {plan.number} changed since you checked it: {was} was settled "
            f"then, {now} is now. Nothing was recorded; check the figures and "
            "confirm again."
        )
    mark_id = mark_paid(
        conn, invoice_id, paid_on=paid_on, actor=actor, amount_minor=plan.settled_after,
        method=method, reference=reference, note=note, locale=locale,
    )  # fmt: skip
    return mark_id, plan
