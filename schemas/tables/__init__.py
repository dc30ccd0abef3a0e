"""Store tables (SQLModel). Money is integer minor units beside an ISO currency code.

Three kinds of column live here, and the names say which:

* facts as the billing system reported them (``total_minor``, ``feed_balance_minor``,
  ``lifecycle``), written only by imports;
* derived columns (``paid_minor``, ``balance_minor``, ``status``), a cache of
  ``schemas.settlement`` over the facts, rewritten in the same transaction as any fact they
  depend on (imports, paid marks) so lists can filter and sort by them with an index;
* provenance (``source``, ``external_id``, ``content_hash``, batch ids).

Timestamps are naive UTC. ``None`` in a money column means unknown, never zero.

SQLModel classes declare the schema (``ledger``, ``access``, ``imports``); queries use the
typed ``sqlalchemy.Table`` constants below (``INVOICES.c.total_minor``), one per table,
never ``Model.__table__`` (which SQLModel does not declare to a type checker).
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from schemas.tables.access import (
    AdminUser,
    AuditEvent,
    Contact,
    Grant,
    LoginToken,
    OutboxMessage,
    PortalSession,
    SignInAttempt,
)
from schemas.tables.columns import utcnow
from schemas.tables.hooks import PullRequest, WebhookEvent, WebhookRefusal
from schemas.tables.imports import (
    ApiConnection,
    FileClaim,
    ImportBatch,
    JobLock,
    ManifestEntry,
    RowError,
    SchedulerJob,
    SourceState,
)
from schemas.tables.ledger import (
    Account,
    Allocation,
    Attachment,
    Conflict,
    CreditNote,
    CreditNoteLine,
    Document,
    Invoice,
    InvoiceLine,
    PaidMark,
    Payment,
    PaymentClaim,
)
from schemas.tables.notices import Notice, NoticeItem, NoticeSubscription


def table_of(model: type[SQLModel]) -> Table:
    """Return the Core table SQLModel built for *model* (``table=True`` classes only)."""
    return SQLModel.metadata.tables[str(model.__tablename__)]


ACCOUNTS: Table = table_of(Account)
CONTACTS: Table = table_of(Contact)
GRANTS: Table = table_of(Grant)
INVOICES: Table = table_of(Invoice)
CREDIT_NOTES: Table = table_of(CreditNote)
INVOICE_LINES: Table = table_of(InvoiceLine)
CREDIT_NOTE_LINES: Table = table_of(CreditNoteLine)
PAYMENTS: Table = table_of(Payment)
ALLOCATIONS: Table = table_of(Allocation)
DOCUMENTS: Table = table_of(Document)
ATTACHMENTS: Table = table_of(Attachment)
IMPORT_BATCHES: Table = table_of(ImportBatch)
ROW_ERRORS: Table = table_of(RowError)
PAID_MARKS: Table = table_of(PaidMark)
AUDIT_EVENTS: Table = table_of(AuditEvent)
ADMIN_USERS: Table = table_of(AdminUser)
LOGIN_TOKENS: Table = table_of(LoginToken)
OUTBOX: Table = table_of(OutboxMessage)
PORTAL_SESSIONS: Table = table_of(PortalSession)
SIGN_IN_ATTEMPTS: Table = table_of(SignInAttempt)
CONFLICTS: Table = table_of(Conflict)
PAYMENT_CLAIMS: Table = table_of(PaymentClaim)
FILE_CLAIMS: Table = table_of(FileClaim)
JOB_LOCKS: Table = table_of(JobLock)
SOURCE_STATES: Table = table_of(SourceState)
API_CONNECTIONS: Table = table_of(ApiConnection)
MANIFEST_ENTRIES: Table = table_of(ManifestEntry)
SCHEDULER_JOBS: Table = SchedulerJob
NOTICE_SUBSCRIPTIONS: Table = table_of(NoticeSubscription)
NOTICES: Table = table_of(Notice)
NOTICE_ITEMS: Table = table_of(NoticeItem)
PULL_REQUESTS: Table = table_of(PullRequest)
WEBHOOK_EVENTS: Table = table_of(WebhookEvent)
WEBHOOK_REFUSALS: Table = table_of(WebhookRefusal)

__all__ = [
    "ACCOUNTS",
    "ADMIN_USERS",
    "ALLOCATIONS",
    "API_CONNECTIONS",
    "ATTACHMENTS",
    "AUDIT_EVENTS",
    "CONFLICTS",
    "CONTACTS",
    "CREDIT_NOTES",
    "CREDIT_NOTE_LINES",
    "DOCUMENTS",
    "FILE_CLAIMS",
    "GRANTS",
    "IMPORT_BATCHES",
    "INVOICES",
    "INVOICE_LINES",
    "JOB_LOCKS",
    "LOGIN_TOKENS",
    "MANIFEST_ENTRIES",
    "NOTICES",
    "NOTICE_ITEMS",
    "NOTICE_SUBSCRIPTIONS",
    "OUTBOX",
    "PAID_MARKS",
    "PAYMENTS",
    "PAYMENT_CLAIMS",
    "PORTAL_SESSIONS",
    "PULL_REQUESTS",
    "ROW_ERRORS",
    "SCHEDULER_JOBS",
    "SIGN_IN_ATTEMPTS",
    "SOURCE_STATES",
    "WEBHOOK_EVENTS",
    "WEBHOOK_REFUSALS",
    "Account",
    "AdminUser",
    "Allocation",
    "ApiConnection",
    "Attachment",
    "AuditEvent",
    "Conflict",
    "Contact",
    "CreditNote",
    "CreditNoteLine",
    "Document",
    "FileClaim",
    "Grant",
    "ImportBatch",
    "Invoice",
    "InvoiceLine",
    "JobLock",
    "LoginToken",
    "ManifestEntry",
    "Notice",
    "NoticeItem",
    "NoticeSubscription",
    "OutboxMessage",
    "PaidMark",
    "Payment",
    "PaymentClaim",
    "PortalSession",
    "PullRequest",
    "RowError",
    "SchedulerJob",
    "SignInAttempt",
    "SourceState",
    "WebhookEvent",
    "WebhookRefusal",
    "table_of",
    "utcnow",
]
