"""Who may sign in and what they did: contacts, grants, admins, sign-in links, sessions,
rate-limit attempts and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Index,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from schemas.tables.columns import when


class Contact(SQLModel, table=True):
    """A person who may sign in to the portal; email is unique case-insensitively."""

    __tablename__ = "contact"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)  # stored lower-cased and trimmed
    name: str | None = None
    created_at: datetime = when(required=True)
    invited_at: datetime | None = when()
    last_sign_in_at: datetime | None = when()
    revoked_at: datetime | None = when()


class Grant(SQLModel, table=True):
    """A contact's access to an account (and, for a parent, all its sites)."""

    __tablename__ = "access_grant"
    __table_args__ = (UniqueConstraint("contact_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    role: str = "billing"  # "billing" (amounts, statements) or "documents"
    created_at: datetime = when(required=True)


class AdminUser(SQLModel, table=True):
    """Office staff who run billfold; separate from customer contacts."""

    __tablename__ = "admin_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)  # stored lower-cased and trimmed
    name: str | None = None
    created_at: datetime = when(required=True)
    last_sign_in_at: datetime | None = when()
    revoked_at: datetime | None = when()


class LoginToken(SQLModel, table=True):
    """A one-time sign-in link. Only the token's SHA-256 is stored."""

    __tablename__ = "login_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    principal_kind: str  # "contact" or "admin"
    principal_id: int = Field(index=True)
    email: str  # the address the link was sent to
    purpose: str = "sign_in"  # sign_in or invite
    created_at: datetime = when(required=True)
    expires_at: datetime = when(required=True)
    used_at: datetime | None = when()
    requested_ip: str | None = None


class OutboxMessage(SQLModel, table=True):
    """A mail waiting to be sent (``sync.access.outbox``), written in the same
    transaction as the event that causes it.

    ``kind`` is ``request`` (someone asked the sign-in form for a link: the sender
    decides whether one is due), ``link`` (a sign-in or invitation link: the sender
    gives ``token_id``'s row a new secret at send time, so no usable secret is stored)
    ``message`` (subject and body as written) or ``notice`` (composed from
    ``notice_id``'s row when sent, ``sync.access.notice_mail``). ``state`` goes waiting -> sent |
    logged (no SMTP host) | dropped (the link died first) | failed (``attempts`` ran
    out). A sender holds a row while ``lease_until`` is ahead.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # request, link, message, notice
    recipient: str
    principal_kind: str | None = None  # request: contact or admin
    requested_ip: str | None = None
    token_id: int | None = None  # link: the login_token row it re-keys
    notice_id: int | None = None  # notice: the notice row it is composed from
    admin_link: bool = False
    invited: bool = False
    subject: str | None = None
    body: str | None = Field(default=None, sa_type=Text)
    state: str = "waiting"  # waiting, sent, logged, dropped, failed
    attempts: int = 0
    next_attempt_at: datetime = when(required=True)
    lease_owner: str | None = None
    lease_until: datetime | None = when()
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = when(required=True)
    finished_at: datetime | None = when()


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
    created_at: datetime = when(required=True)
    last_seen_at: datetime = when(required=True)
    expires_at: datetime = when(required=True)
    revoked_at: datetime | None = when()
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
    at: datetime = when(required=True)
    email_hash: str
    ip: str | None = None


class AuditEvent(SQLModel, table=True):
    """Who did what, when, to which account or record. Append-only."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_record", "record_kind", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = when(required=True, index=True)
    actor: str  # "admin:<email>", "contact:<id>", "source:<name>", "cli"
    action: str
    account_id: int | None = Field(default=None, index=True)
    record_kind: str | None = None
    record_id: int | None = None
    ip: str | None = None
    detail: str = Field(default="{}", sa_type=Text)  # JSON object
