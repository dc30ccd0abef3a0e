"""Store tables (SQLModel). Money is integer minor units beside an ISO currency code.

Three kinds of column live here, and the names say which:

* facts as the billing system reported them (``total_minor``, ``feed_balance_minor``,
  ``lifecycle``), written only by imports;
* derived columns (``paid_minor``, ``balance_minor``, ``status``), a cache of
  ``schemas.settlement`` over the facts, rewritten in the same transaction as any fact they
  depend on (imports, paid marks) so lists can filter and sort by them with an index;
* provenance (``source``, ``external_id``, ``content_hash``, batch ids).

Timestamps are naive UTC. ``None`` in a money column means unknown, never zero.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Return the current time as naive UTC, the form every timestamp is stored in."""
    return datetime.now(UTC).replace(tzinfo=None)


def _money(**kwargs) -> object:
    return Field(default=None, sa_type=BigInteger, **kwargs)


def _when(*, required: bool = False, **kwargs) -> object:
    """A naive-UTC timestamp column (never ``timestamptz``: one meaning on every database)."""
    if required:
        return Field(default_factory=utcnow, sa_type=DateTime(), **kwargs)
    return Field(default=None, sa_type=DateTime(), **kwargs)


def _ref(target: str, **kwargs) -> object:
    """A foreign key column that is an index too."""
    return Field(
        default=None,
        sa_column=Column(Integer, ForeignKey(target), index=True, **kwargs),
    )


class Account(SQLModel, table=True):
    """A customer in the billing system; a site or job points at its parent account."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("source", "external_key"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_key: str
    name: str
    email: str | None = None
    parent_id: int | None = _ref("account.id")
    portal_enabled: bool = False
    # JSON lists of the different names its customer id carried: waiting for an admin
    # to confirm they are one customer (the portal stays closed meanwhile; sync.identity),
    # and confirmed so.
    names_to_confirm: str | None = Field(default=None, sa_type=Text)
    confirmed_names: str | None = Field(default=None, sa_type=Text)
    first_batch_id: int | None = None
    last_batch_id: int | None = None
    created_at: datetime = _when(required=True)


class Contact(SQLModel, table=True):
    """A person who may sign in to the portal; email is unique case-insensitively."""

    __tablename__ = "contact"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)  # stored lower-cased and trimmed
    name: str | None = None
    created_at: datetime = _when(required=True)
    invited_at: datetime | None = _when()
    last_sign_in_at: datetime | None = _when()
    revoked_at: datetime | None = _when()


class Grant(SQLModel, table=True):
    """A contact's access to an account (and, for a parent, all its sites)."""

    __tablename__ = "access_grant"
    __table_args__ = (UniqueConstraint("contact_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    role: str = "billing"  # "billing" (amounts, statements) or "documents"
    created_at: datetime = _when(required=True)


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
    subtotal_minor: int | None = _money()
    tax_minor: int | None = _money()
    total_minor: int = Field(sa_type=BigInteger)
    lifecycle: str = "issued"  # draft, issued, void, deleted
    reference: str | None = None
    memo: str | None = None
    pay_url: str | None = None
    source_updated_at: datetime | None = _when()
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

    feed_paid_minor: int | None = _money()
    feed_credited_minor: int | None = _money()
    feed_balance_minor: int | None = _money()
    paid_flag: bool | None = None
    # derived (schemas.settlement.settle_invoice)
    paid_minor: int | None = _money()
    credited_minor: int | None = _money()
    balance_minor: int | None = _money()
    status: str = "unknown"
    settled_by: str | None = None  # "feed", "mark" or None (unknown)
    marked_excess_minor: int = Field(default=0, sa_type=BigInteger)
    # provenance (sync.first_reports): what the feed last reported settled, and the
    # day an export first reported that much (kept while later exports repeat it)
    reported_settled_minor: int | None = _money()
    settled_first_reported_on: date | None = None


class CreditNote(_DocumentColumns, table=True):
    """A credit note: header facts plus derived applied/remaining/status."""

    __tablename__ = "credit_note"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_credit_note_account_date", "account_id", "issue_date"),
        Index("ix_credit_note_number", "number"),
    )

    feed_remaining_minor: int | None = _money()
    # derived (schemas.settlement.settle_credit_note)
    applied_minor: int | None = _money()
    remaining_minor: int | None = _money()
    status: str = "unknown"
    # provenance (sync.first_reports): credit the feed last reported used, and the day
    # an export first reported that much
    reported_used_minor: int | None = _money()
    used_first_reported_on: date | None = None
    # credit paid back to the customer, as the feed reports it, and the day it was
    refunded_minor: int | None = _money()
    refunded_on: date | None = None


class _LineColumns(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    position: int
    description: str = ""
    item: str | None = None
    quantity: str | None = None  # decimal text: quantities may carry 4 places
    unit_price: str | None = None  # decimal text, same reason
    amount_minor: int | None = _money()
    tax_minor: int | None = _money()


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
    feed_unapplied_minor: int | None = _money()
    unapplied_minor: int | None = _money()  # derived
    refunded_minor: int | None = _money()  # paid back to the customer (feed)
    refunded_on: date | None = None
    source_updated_at: datetime | None = _when()
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
    account_id: int | None = _ref("account.id")
    invoice_id: int | None = _ref("invoice.id")
    credit_note_id: int | None = _ref("credit_note.id")
    batch_id: int | None = None
    created_at: datetime = _when(required=True)


class ImportBatch(SQLModel, table=True):
    """One file's trip through the pipeline and what it did."""

    __tablename__ = "import_batch"
    __table_args__ = (Index("ix_import_batch_source_started", "source", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    file_name: str
    sha256: str = Field(index=True)
    size: int = Field(sa_type=BigInteger)
    adapter: str | None = None
    status: str  # applied, duplicate, rejected, failed, staged, published, discarded
    reason: str | None = None
    mode: str = "incremental"
    encoding: str | None = None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: str = Field(default="[]", sa_type=Text)  # JSON list of strings
    as_of: datetime | None = _when()
    started_at: datetime = _when(required=True)
    finished_at: datetime | None = _when()
    stored_path: str | None = None
    duplicate_of_id: int | None = None
    diff: str | None = Field(default=None, sa_type=Text)  # JSON, for staged batches
    published_batch_id: int | None = None


class RowError(SQLModel, table=True):
    """A rejected record of a batch: where it was, what was wrong, what was expected."""

    __tablename__ = "row_error"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("import_batch.id", ondelete="CASCADE"), index=True
        )
    )
    line: int | None = None
    record: str | None = None
    column_name: str | None = None
    value: str | None = None
    reason: str


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
    created_at: datetime = _when(required=True)
    state: str = "active"
    state_changed_at: datetime | None = _when()
    state_changed_by: str | None = None
    state_reason: str | None = None
    basis_settled_minor: int | None = _money()
    basis_total_minor: int | None = _money()
    basis_content_hash: str | None = None


class AuditEvent(SQLModel, table=True):
    """Who did what, when, to which account or record. Append-only."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_record", "record_kind", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(required=True, index=True)
    actor: str  # "admin:<email>", "contact:<id>", "source:<name>", "cli"
    action: str
    account_id: int | None = Field(default=None, index=True)
    record_kind: str | None = None
    record_id: int | None = None
    ip: str | None = None
    detail: str = Field(default="{}", sa_type=Text)  # JSON object


class AdminUser(SQLModel, table=True):
    """Office staff who run billfold; separate from customer contacts."""

    __tablename__ = "admin_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)  # stored lower-cased and trimmed
    name: str | None = None
    created_at: datetime = _when(required=True)
    last_sign_in_at: datetime | None = _when()
    revoked_at: datetime | None = _when()


class LoginToken(SQLModel, table=True):
    """A one-time sign-in link. Only the token's SHA-256 is stored."""

    __tablename__ = "login_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    principal_kind: str  # "contact" or "admin"
    principal_id: int = Field(index=True)
    email: str  # the address the link was sent to
    purpose: str = "sign_in"  # sign_in or invite
    created_at: datetime = _when(required=True)
    expires_at: datetime = _when(required=True)
    used_at: datetime | None = _when()
    requested_ip: str | None = None


class PortalSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "portal_session"
    __table_args__ = (
        Index("ix_portal_session_principal", "principal_kind", "principal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    principal_kind: str
    principal_id: int
    created_at: datetime = _when(required=True)
    last_seen_at: datetime = _when(required=True)
    expires_at: datetime = _when(required=True)
    revoked_at: datetime | None = _when()
    current_account_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None


class SignInAttempt(SQLModel, table=True):
    """A request for a sign-in link, counted for rate limits (known email or not)."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        Index("ix_sign_in_attempt_email", "email_hash", "at"),
        Index("ix_sign_in_attempt_ip", "ip", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(required=True)
    email_hash: str
    ip: str | None = None


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
    opened_at: datetime = _when(required=True)
    resolved_at: datetime | None = _when()
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
    created_at: datetime = _when(required=True)
    state: str = "pending"  # pending, confirmed, rejected
    resolved_at: datetime | None = _when()
    resolved_by: str | None = None
    mark_id: int | None = None


class FileClaim(SQLModel, table=True):
    """A worker's claim on one version of one file from a source: exactly once.

    One row per (source, file key, signature): a folder file's name and SHA-256, or an
    S3 object's key and ETag (with its LastModified: the export's as-of time, and the
    order objects are taken in, also after a takeover). The row is inserted (its own
    small transaction) before the file is imported, so of several workers exactly one
    wins it; the others skip the file. ``state`` goes claimed -> imported | duplicate |
    rejected | failed. A claim whose lease ran out, or whose holder (``host:pid``) is a
    dead process on this host, may be taken over; a failed one is retried from
    ``retry_at`` (``NULL``: given up).
    """

    __tablename__ = "file_claim"
    __table_args__ = (
        UniqueConstraint("source", "file_key", "signature"),
        Index("ix_file_claim_source_state", "source", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    file_key: str  # folder: the file's name in the inbox; s3: the object key
    signature: str  # folder: SHA-256 of the bytes; s3: the ETag
    state: str = "claimed"  # claimed, imported, duplicate, rejected, failed
    claimed_by: str  # host:pid of the worker holding (or last holding) it
    lease_until: datetime = _when(required=True)
    attempts: int = 1
    batch_id: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    retry_at: datetime | None = _when()
    size: int | None = Field(default=None, sa_type=BigInteger)
    claimed_at: datetime = _when(required=True)
    finished_at: datetime | None = _when()
    moved_to: str | None = None  # folder: where the file went (processed/ or failed/)
    last_modified: datetime | None = _when()  # s3: the object's LastModified (as-of)


class JobLock(SQLModel, table=True):
    """A lease on a scheduled job, so two workers never run the same job at once."""

    __tablename__ = "job_lock"

    name: str = Field(primary_key=True)
    holder: str  # host:pid/token of the run holding it
    acquired_at: datetime = _when(required=True)
    expires_at: datetime = _when(required=True)


class SourceState(SQLModel, table=True):
    """What the workers last saw of a source (``billfold status``)."""

    __tablename__ = "source_state"

    source: str = Field(primary_key=True)
    last_poll_at: datetime | None = _when()
    last_success_at: datetime | None = _when()
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = _when()
    files_pending: int | None = None
    updated_by: str | None = None


class ManifestEntry(SQLModel, table=True):
    """One row of a documents manifest: which account and record a file belongs to.

    Kept until the file (a Document) and the account or record it names are both in the
    store; ``state`` is pending, linked or ignored (the document was linked before the
    manifest arrived), with ``reason`` saying why it waits or was ignored.
    """

    __tablename__ = "manifest_entry"
    __table_args__ = (Index("ix_manifest_entry_file", "source", "file_name"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    batch_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("import_batch.id", ondelete="CASCADE"),
            index=True,
            nullable=False,
        )
    )
    line: int
    file_name: str
    account_ref: str | None = None
    record_ref: str | None = None
    kind: str = "other"
    state: str = "pending"  # pending, linked, ignored
    reason: str | None = None
    document_id: int | None = Field(default=None, index=True)
    created_at: datetime = _when(required=True)
    linked_at: datetime | None = _when()


# APScheduler 3's job store table (sync.schedule), declared here with exactly the
# columns ``SQLAlchemyJobStore`` creates so the migrations own it like every other table.
SchedulerJob = Table(
    "scheduler_job",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
