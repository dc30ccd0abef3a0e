"""The ledger's tables: accounts, invoices, credit notes, payments, allocations, documents,
the office's paid marks, conflicts and customers' payment claims."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from schemas.tables.columns import money, ref, when


class Account(SQLModel, table=True):
    """A customer in the billing system; a site or job points at its parent account."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("source", "external_key"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_key: str
    name: str
    email: str | None = None
    parent_id: int | None = ref("account.id")
    portal_enabled: bool = False
    # JSON lists of the different names its customer id carried: waiting for an admin
    # to confirm they are one customer (the portal stays closed meanwhile; sync.identity),
    # and confirmed so.
    names_to_confirm: str | None = Field(default=None, sa_type=Text)
    confirmed_names: str | None = Field(default=None, sa_type=Text)
    first_batch_id: int | None = None
    last_batch_id: int | None = None
    created_at: datetime = when(required=True)


class _DocumentColumns(SQLModel):
    """Columns shared by invoices and credit notes."""

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    number: str
    account_id: int = Field(foreign_key="account.id")
    currency: str
    issue_date: date | None = None
    due_date: date | None = None
    subtotal_minor: int | None = money()
    tax_minor: int | None = money()
    total_minor: int = Field(sa_type=BigInteger)
    lifecycle: str = "issued"  # draft, issued, void, deleted
    reference: str | None = None
    memo: str | None = None
    pay_url: str | None = None
    # what the copy shows beside the figures (schemas.records.DocumentRecord)
    terms: str | None = None
    tax_mode: str | None = None  # exclusive, inclusive, no_tax; None: not said
    exchange_rate: str | None = None  # decimal text, as the source wrote it
    doc_type: str | None = None  # sales_receipt, refund_receipt; None: plain
    source_updated_at: datetime | None = when()
    source_version: int | None = None
    content_hash: str
    first_batch_id: int | None = None
    last_batch_id: int | None = None
    missing_since_batch_id: int | None = None


class Invoice(_DocumentColumns, table=True):
    """An invoice: header facts from the source plus derived paid/balance/status."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_invoice_account_date", "account_id", "issue_date"),
        Index("ix_invoice_account_status", "account_id", "status", "lifecycle"),
        Index("ix_invoice_number", "number"),
    )

    feed_paid_minor: int | None = money()
    feed_credited_minor: int | None = money()
    feed_balance_minor: int | None = money()
    paid_flag: bool | None = None
    # derived (schemas.settlement.settle_invoice)
    paid_minor: int | None = money()
    credited_minor: int | None = money()
    balance_minor: int | None = money()
    status: str = "unknown"
    settled_by: str | None = None  # "feed", "mark" or None (unknown)
    marked_excess_minor: int = Field(default=0, sa_type=BigInteger)
    # provenance (sync.first_reports): what the feed last reported settled, and the
    # day an export first reported that much (kept while later exports repeat it)
    reported_settled_minor: int | None = money()
    settled_first_reported_on: date | None = None


class CreditNote(_DocumentColumns, table=True):
    """A credit note: header facts plus derived applied/remaining/status."""

    __tablename__ = "credit_note"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_credit_note_account_date", "account_id", "issue_date"),
        Index("ix_credit_note_number", "number"),
    )

    feed_remaining_minor: int | None = money()
    # derived (schemas.settlement.settle_credit_note)
    applied_minor: int | None = money()
    remaining_minor: int | None = money()
    status: str = "unknown"
    # provenance (sync.first_reports): credit the feed last reported used, and the day
    # an export first reported that much
    reported_used_minor: int | None = money()
    used_first_reported_on: date | None = None
    # credit paid back to the customer, as the feed reports it, and the day it was
    refunded_minor: int | None = money()
    refunded_on: date | None = None


class _LineColumns(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    position: int
    kind: str = "item"  # item, subtotal, discount (never summed into a total)
    description: str = ""
    item: str | None = None
    quantity: str | None = None  # decimal text: quantities may carry 4 places
    unit_price: str | None = None  # decimal text, same reason
    amount_minor: int | None = money()
    tax_minor: int | None = money()


class InvoiceLine(_LineColumns, table=True):
    """A line of an invoice, replaced as a set whenever the invoice changes."""

    __tablename__ = "invoice_line"

    invoice_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("invoice.id", ondelete="CASCADE"), index=True
        )
    )


class CreditNoteLine(_LineColumns, table=True):
    """A line of a credit note, replaced as a set whenever the credit note changes."""

    __tablename__ = "credit_note_line"

    credit_note_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("credit_note.id", ondelete="CASCADE"), index=True
        )
    )


class Payment(SQLModel, table=True):
    """Cash received; ``unapplied_minor`` is what is not allocated to any invoice."""

    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_payment_account_date", "account_id", "received_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    account_id: int = Field(foreign_key="account.id")
    received_on: date | None = None
    currency: str
    amount_minor: int = Field(sa_type=BigInteger)
    method: str | None = None
    reference: str | None = None
    memo: str | None = None
    lifecycle: str = "active"  # active, void, deleted
    feed_unapplied_minor: int | None = money()
    unapplied_minor: int | None = money()  # derived
    refunded_minor: int | None = money()  # paid back to the customer (feed)
    refunded_on: date | None = None
    source_updated_at: datetime | None = when()
    source_version: int | None = None
    content_hash: str
    first_batch_id: int | None = None
    last_batch_id: int | None = None
    missing_since_batch_id: int | None = None


class Allocation(SQLModel, table=True):
    """Cash or credit applied to an invoice.

    ``owner_kind``/``owner_id`` name the payment or credit note whose import wrote the
    row (its allocations are replaced as a set when it changes). The ``*_ref`` columns
    hold the source's ids; ``invoice_id``/``credit_note_id`` are filled when the target
    exists, so a payment that arrives before its invoice is kept, not dropped.
    """

    __tablename__ = "allocation"
    __table_args__ = (
        Index("ix_allocation_owner", "owner_kind", "owner_id"),
        Index("ix_allocation_invoice_ref", "source", "invoice_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    owner_kind: str  # "payment" or "credit_note"
    owner_id: int
    kind: str  # "cash" or "credit"
    payment_id: int | None = Field(default=None, index=True)
    credit_note_ref: str | None = None
    credit_note_id: int | None = Field(default=None, index=True)
    invoice_ref: str
    invoice_id: int | None = Field(default=None, index=True)
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str
    applied_on: date | None = None


class Document(SQLModel, table=True):
    """A stored file (invoice original, job sheet, receipt, contract), content-addressed.

    ``account_id`` is always set once the file is linked (to the account of its invoice
    or credit note when linked to one); an unlinked file waits for an admin.
    """

    __tablename__ = "document"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(index=True)
    kind: str = (
        "other"  # invoice_copy, credit_note_copy, job_sheet, receipt, contract, other
    )
    file_name: str
    content_type: str
    size: int = Field(sa_type=BigInteger)
    storage_key: str
    account_id: int | None = ref("account.id")
    invoice_id: int | None = ref("invoice.id")
    credit_note_id: int | None = ref("credit_note.id")
    batch_id: int | None = None
    created_at: datetime = when(required=True)


class Attachment(SQLModel, table=True):
    """A file the billing system holds on a document, known by name, waiting to be fetched.

    ``document_kind``/``document_ref`` name the invoice or credit note by its external id
    in the same source (it may be imported later, so nothing is lost meanwhile);
    ``document_id`` is the stored file once it has been fetched.
    """

    __tablename__ = "attachment"
    __table_args__ = (
        UniqueConstraint("source", "document_kind", "document_ref", "external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    document_kind: str  # invoice or credit_note
    document_ref: str
    name: str | None = None  # None: the export says only that there are attachments
    content_type: str | None = None
    size: int | None = Field(default=None, sa_type=BigInteger)
    document_id: int | None = ref("document.id")
    first_batch_id: int | None = None
    last_batch_id: int | None = None
    created_at: datetime = when(required=True)


class PaidMark(SQLModel, table=True):
    """An admin's append-only assertion that an invoice is (partly) paid.

    ``amount_minor`` is the cumulative amount the admin says is settled. Feeds never edit
    a mark; they move its ``state`` (active, confirmed, conflicted, superseded, revoked).
    """

    __tablename__ = "paid_mark"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount_minor: int = Field(sa_type=BigInteger)
    paid_on: date
    method: str | None = None
    reference: str | None = None
    note: str | None = None
    created_by: str
    created_at: datetime = when(required=True)
    state: str = "active"
    state_changed_at: datetime | None = when()
    state_changed_by: str | None = None
    state_reason: str | None = None
    basis_settled_minor: int | None = money()
    basis_total_minor: int | None = money()
    basis_content_hash: str | None = None


class Conflict(SQLModel, table=True):
    """Something an admin must decide: a feed that disagrees with a paid mark, a void of
    a marked invoice. Resolved with one action, audited."""

    __tablename__ = "conflict"

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # feed_void, feed_disagrees
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    mark_id: int | None = Field(default=None, foreign_key="paid_mark.id")
    batch_id: int | None = None
    detail: str = Field(
        default="{}", sa_type=Text
    )  # JSON: what the feed said, what the mark said
    opened_at: datetime = when(required=True)
    resolved_at: datetime | None = when()
    resolved_by: str | None = None
    resolution: str | None = None


class PaymentClaim(SQLModel, table=True):
    """A customer's "I've paid" for an invoice, waiting for the office to confirm it."""

    __tablename__ = "payment_claim"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    amount_minor: int = Field(sa_type=BigInteger)
    paid_on: date
    reference: str | None = None
    note: str | None = None
    created_at: datetime = when(required=True)
    state: str = "pending"  # pending, confirmed, rejected
    resolved_at: datetime | None = when()
    resolved_by: str | None = None
    mark_id: int | None = None
