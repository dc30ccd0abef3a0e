"""Canonical records: the only contract between adapters and the sync engine.

Adapters yield these (plus ``Rejection`` for a bad record and ``Note`` for something worth
telling the admin); ``sync`` validates, reconciles and stores them. Amounts are ``Decimal``
exactly as the export wrote them; ``None`` always means "the export does not say", never
zero. Records are plain slotted dataclasses because an import builds hundreds of thousands
of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

Day = date  # a field named ``date`` hides the type inside PaymentRecord
DocumentKind = Literal["invoice", "credit_note"]
Lifecycle = Literal["draft", "issued", "void", "deleted"]
PaymentLifecycle = Literal["active", "void", "deleted"]
AllocationKind = Literal["cash", "credit"]
# An item line, a subtotal the source prints between lines, or a discount (its amount
# is negative). Lines are what the copy shows; none of them is ever summed into a total.
LineKind = Literal["item", "subtotal", "discount"]
# How a document's line amounts stand to its tax (Xero's LineAmountTypes).
TaxMode = Literal["exclusive", "inclusive", "no_tax"]
# What a document is called when it is not a plain invoice or credit note: a sale paid
# on the spot (QuickBooks SalesReceipt, IIF CASH SALE) or a refund paid out at once.
DocumentType = Literal["sales_receipt", "refund_receipt"]
_TITLES = {
    "invoice": "Invoice", "credit_note": "Credit note",
    "sales_receipt": "Sales receipt", "refund_receipt": "Refund receipt",
}  # fmt: skip


def document_title(kind: str, document_type: str | None = None) -> str:
    """What a document is called on its copy, page and statement line."""
    return _TITLES.get(document_type or kind, _TITLES.get(kind, "Invoice"))


@dataclass(slots=True)
class AccountRecord:
    """A customer account as the billing system names it.

    ``key`` is the source's own id, or the NFC-normalised display name where the export
    has none. A site or job under a parent names the parent in ``parent_key``.
    """

    key: str
    name: str
    email: str | None = None
    parent_key: str | None = None
    parent_name: str | None = None


@dataclass(slots=True)
class LineRecord:
    """One line of an invoice or credit note; informational, never summed into totals."""

    position: int
    kind: LineKind = "item"
    description: str = ""
    item: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    tax: Decimal | None = None


@dataclass(slots=True)
class AllocationRecord:
    """Money applied to an invoice: cash from a payment or credit from a credit note.

    ``invoice_ref`` and ``credit_note_ref`` are external ids in the same source; they may
    name records that arrive in a later file.
    """

    kind: AllocationKind
    invoice_ref: str
    amount: Decimal
    date: date | None = None
    credit_note_ref: str | None = None


@dataclass(slots=True)
class DocumentRecord:
    """An invoice or a credit note with its lines, as one unit of acceptance or rejection.

    ``balance`` is what the source says is still due (invoice) or unused (credit note).
    ``paid_flag`` is True when the source says "paid in full", False when it says
    "nothing paid", and None when it says neither (a "not fully paid" flag is None).
    ``total`` comes from the source's header, never from adding up lines.
    """

    kind: DocumentKind
    external_id: str
    number: str
    account: AccountRecord
    issue_date: date | None
    total: Decimal | None
    currency: str | None = None
    due_date: date | None = None
    subtotal: Decimal | None = None
    tax: Decimal | None = None
    lifecycle: Lifecycle = "issued"
    amount_paid: Decimal | None = None
    amount_credited: Decimal | None = None
    balance: Decimal | None = None
    paid_flag: bool | None = None
    reference: str | None = None
    memo: str | None = None
    pay_url: str | None = None
    updated_at: datetime | None = None
    version: int | None = None
    lines: list[LineRecord] = field(default_factory=list)
    allocations: list[AllocationRecord] = field(default_factory=list)
    line: int | None = None
    lines_known: bool = True  # False: the export left lines out; keep the stored ones
    # The id an older billfold gave this document (a report's bare number): a record
    # stored under it for the same customer is this one (sync.former_ids).
    former_id: str | None = None
    # What the copy shows beside the figures: payment terms ("Net 30"), how line
    # amounts include tax, and the rate of a foreign-currency document to the home one.
    terms: str | None = None
    tax_mode: TaxMode | None = None
    exchange_rate: Decimal | None = None
    # None: a plain invoice or credit note; else what its copy and statement call it.
    document_type: DocumentType | None = None
    # A credit note's credit paid back to the customer (a refund), and when (the last
    # refund's day); None: the export does not say.
    refunded: Decimal | None = None
    refunded_on: date | None = None

    @property
    def label(self) -> str:
        """Return how an admin names this record: ``invoice 1004``."""
        kind = "credit note" if self.kind == "credit_note" else "invoice"
        return f"{kind} {self.number}"


@dataclass(slots=True)
class PaymentRecord:
    """Cash received from a customer, with the invoices it was applied to (if known)."""

    external_id: str
    account: AccountRecord
    date: date | None
    amount: Decimal | None
    currency: str | None = None
    method: str | None = None
    reference: str | None = None
    memo: str | None = None
    unapplied: Decimal | None = None
    # Cash of this payment paid back to the customer (an overpayment's refund), and when.
    refunded: Decimal | None = None
    refunded_on: Day | None = None
    lifecycle: PaymentLifecycle = "active"
    updated_at: datetime | None = None
    version: int | None = None
    allocations: list[AllocationRecord] = field(default_factory=list)
    line: int | None = None

    @property
    def label(self) -> str:
        """Return how an admin names this record: ``payment 4471``."""
        return f"payment {self.reference or self.external_id}"


@dataclass(slots=True)
class AttachmentRecord:
    """A file attached to a document in the billing system, named but not yet fetched.

    ``document_ref`` is the document's external id in the same source (the document may
    arrive in another file). ``name`` is None when the export says only that the
    document has attachments.
    """

    external_id: str
    document_kind: DocumentKind
    document_ref: str
    name: str | None
    content_type: str | None = None
    size: int | None = None
    line: int | None = None


@dataclass(slots=True)
class ExportInfo:
    """Facts about the whole export, yielded before any record when the file states them."""

    as_of: datetime | None = None
    description: str | None = None
    # billfold's field names (schemas.limits: "memo", or "payment.reference" for one
    # kind) -> the export's own column names, for messages about a field.
    columns: dict[str, str] | None = None


@dataclass(slots=True)
class Deletion:
    """A record the source says was deleted, named only by its id (a QuickBooks change
    data capture answer gives a deleted entity's Id and time, nothing else).

    The store marks its copy deleted, as when a full record arrives deleted; a deletion
    of a record billfold never stored changes nothing.
    """

    kind: Literal["invoice", "credit_note", "payment"]
    external_id: str
    label: str
    updated_at: datetime | None = None


@dataclass(slots=True)
class Rejection:
    """A record the adapter could not read; the rest of the file still applies."""

    reason: str
    line: int | None = None
    record: str | None = None
    column: str | None = None
    value: str | None = None


@dataclass(slots=True)
class Note:
    """Something the admin should know that is not an error (skipped rows, checks)."""

    message: str
    line: int | None = None


Record = AccountRecord | DocumentRecord | PaymentRecord
Item = Record | AttachmentRecord | Deletion | ExportInfo | Rejection | Note
