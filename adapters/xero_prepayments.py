"""Xero Overpayments and Prepayments: cash a customer paid that no invoice has used yet.

Both are what billfold calls a payment: cash received (``Total``), of which
``RemainingCredit`` is still on account (unapplied) and each of ``Allocations`` settled
an invoice (a cash allocation, within the customer's own tree like any payment's).
What is neither applied nor remaining was refunded: Xero's refund payments
(``AROVERPAYMENTPAYMENT``, ``ARPREPAYMENTPAYMENT``) listed in ``Payments`` describe that
money, which statements show as refunded (``sync.ledger.settlements``).

An invoice's ``AmountCredited`` counts what overpayments and prepayments applied to it,
so the invoice's own figures already agree with these allocations.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from adapters.errors import CellError
from adapters.toolkit.json_fields import Fields
from schemas.records import AccountRecord, AllocationRecord, PaymentRecord

COLLECTIONS = {"Overpayments": "Overpayment", "Prepayments": "Prepayment"}
LIFECYCLE = {
    "AUTHORISED": "active", "PAID": "active", "VOIDED": "void", "DELETED": "deleted",
}  # fmt: skip


def prepayment_record(
    one: str, raw: Fields, account: AccountRecord, currency: str | None
) -> tuple[PaymentRecord, int]:
    """Return an Overpayment or Prepayment as a payment, and how many of its
    allocations Xero marks deleted (left out)."""
    ident = raw.required_text(f"{one}ID", f"the {one.lower()}'s id ({one}ID)")
    lifecycle = raw.enum("Status", LIFECYCLE, f"a Status: {', '.join(LIFECYCLE)}")
    total = raw.required_amount("Total", f"the {one.lower()}'s Total")
    if total < 0:
        raise CellError(raw.show("Total"), "a Total of zero or more", "Total")
    received = raw.date("Date")
    if received is None:
        raise CellError("", f"the date the {one.lower()} was received", "Date")
    remaining = raw.amount("RemainingCredit")
    if remaining is not None and not 0 <= remaining <= total:
        raise CellError(
            raw.show("RemainingCredit"),
            f"a RemainingCredit between 0 and the Total {total}",
            "RemainingCredit",
        )
    allocations: list[AllocationRecord] = []
    deleted = 0
    for allocation in raw.objects(
        "Allocations", "a list of Allocations", "an allocation object"
    ):
        if allocation.data.get("IsDeleted") is True:
            deleted += 1
            continue
        invoice = allocation.object("Invoice", "the Invoice the cash was allocated to")
        amount = abs(allocation.required_amount("Amount", "the amount allocated"))
        allocations.append(
            AllocationRecord(
                kind="cash",
                invoice_ref=invoice.required_text("InvoiceID", "an InvoiceID"),
                amount=amount,
                date=allocation.date("Date") or received,
            )
        )
    applied = sum((a.amount for a in allocations), Decimal(0))
    if applied + (remaining or Decimal(0)) > total:
        raise CellError(
            raw.show("Total"),
            f"a Total of at least what its Allocations applied ({applied}) plus its "
            f"RemainingCredit ({remaining or Decimal(0)})",
            "Total",
        )
    active = lifecycle == "active"
    refunded, refunded_on = refunds(raw)
    if applied + (remaining or Decimal(0)) + (refunded or Decimal(0)) > total:
        raise CellError(
            raw.show("Payments"),
            f"refunds of no more than the Total {total} less what was applied and "
            "remains",
            "Payments",
        )
    return (
        PaymentRecord(
            external_id=ident,
            account=account,
            date=received,
            amount=total,
            currency=currency,
            method=one,
            reference=raw.text("Reference"),
            unapplied=remaining if active else None,
            refunded=refunded if active else None,
            refunded_on=refunded_on if active else None,
            lifecycle=lifecycle,
            updated_at=raw.timestamp("UpdatedDateUTC"),
            allocations=allocations if active else [],
        ),
        deleted,
    )


def refunds(raw: Fields) -> tuple[Decimal | None, date | None]:
    """What a credit note's, overpayment's or prepayment's ``Payments`` paid back to
    the customer (Xero lists its refund payments there), and the last refund's day;
    ``(None, None)`` when the object lists none."""
    total: Decimal | None = None
    last: date | None = None
    for payment in raw.objects("Payments", "a list of Payments", "a payment object"):
        if payment.text("Status") == "DELETED":
            continue
        amount = abs(payment.required_amount("Amount", "the amount refunded"))
        total = (total or Decimal(0)) + amount
        day = payment.date("Date")
        if day is not None and (last is None or day > last):
            last = day
    return total, last
