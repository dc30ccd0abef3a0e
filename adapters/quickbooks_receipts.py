"""QuickBooks Online sales receipts and refund receipts, in billfold's canonical kinds.

A ``SalesReceipt`` is a sale paid on the spot: an invoice of its customer, settled in
full when it is issued, and the cash that paid it. IIF cash sales and the report
adapters' sales receipts map the same way (``adapters.quickbooks_iif.transactions``),
but an API feed carries every allocation, so here the cash is allocated to its receipt:
the Payments page says what it paid, and the receipt is never open.

A ``RefundReceipt`` credits the customer and pays the money back at once: a credit
note whose credit is all used (refunded), so it leaves what the customer owes unchanged
and shows on statements as a credit and its refund.

Both are keyed apart from invoices and credit memos (``SalesReceipt 11``): QuickBooks
numbers each entity's Ids on its own.
"""

from __future__ import annotations

from decimal import Decimal

from schemas.records import AllocationRecord, DocumentRecord, PaymentRecord, Record

RECEIPTS = ("SalesReceipt", "RefundReceipt")


def receipt_key(entity: str, ident: str) -> str:
    """The external id of a receipt (and of a sales receipt's payment)."""
    return f"{entity} {ident}"


def receipt_records(
    entity: str, document: DocumentRecord, method: str | None
) -> list[Record]:
    """A SalesReceipt: a paid invoice and its payment; a RefundReceipt: a refund."""
    if entity == "RefundReceipt":
        return [refund_receipt(document)]
    return list(sales_receipt(document, method))


def sales_receipt(
    sale: DocumentRecord, method: str | None
) -> tuple[DocumentRecord, PaymentRecord]:
    """Turn a SalesReceipt read as an invoice into a paid invoice and its payment."""
    void = sale.lifecycle == "void"
    assert sale.total is not None
    sale.external_id = receipt_key("SalesReceipt", sale.external_id)
    sale.document_type = "sales_receipt"
    if not void:
        sale.amount_paid, sale.amount_credited = sale.total, Decimal(0)
        sale.balance, sale.paid_flag = Decimal(0), True
    sale.due_date = None
    payment = PaymentRecord(
        external_id=sale.external_id,
        account=sale.account,
        date=sale.issue_date,
        amount=sale.total,
        currency=sale.currency,
        method=method,
        reference=sale.number,
        memo=f"Sales receipt {sale.number}",
        unapplied=Decimal(0),
        lifecycle="void" if void else "active",
        updated_at=sale.updated_at,
        version=sale.version,
    )
    if not void and sale.total > 0:
        payment.allocations = [
            AllocationRecord(
                kind="cash",
                invoice_ref=sale.external_id,
                amount=sale.total,
                date=sale.issue_date,
            )
        ]
    return sale, payment


def refund_receipt(refund: DocumentRecord) -> DocumentRecord:
    """Turn a RefundReceipt read as a credit note into one whose credit was paid back."""
    refund.external_id = receipt_key("RefundReceipt", refund.external_id)
    refund.document_type = "refund_receipt"
    if refund.lifecycle != "void":
        refund.balance = Decimal(0)  # all of the credit went back to the customer
        refund.refunded, refund.refunded_on = refund.total, refund.issue_date
    refund.pay_url = None
    return refund
