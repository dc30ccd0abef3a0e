"""Notices by email: who asked for which notice, and every notice planned and sent."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from schemas.tables.columns import when


class NoticeSubscription(SQLModel, table=True):
    """A contact's opt-in to one kind of notice (``statement`` or ``digest``) for one
    account (with its sites). ``since``: the digest lists only what arrived after it."""

    __tablename__ = "notice_subscription"
    __table_args__ = (UniqueConstraint("contact_id", "account_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    kind: str  # statement, digest
    since: datetime = when(required=True)
    changed_by: str  # "contact:<id>" or "admin:<email>"


class Notice(SQLModel, table=True):
    """One notice planned for one contact: recorded with its outbox row, before sending.

    ``period_key`` names what it covers (``statement:<account>:2026-11``,
    ``digest:2026-W49``); one per contact and key, so two planners (two ``billfold
    run`` nodes, a restart) can never both plan it. ``outbox_id``'s row says whether it
    was sent.
    """

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("contact_id", "period_key"),
        Index("ix_notice_contact_planned", "contact_id", "planned_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id")
    kind: str  # statement, digest
    account_id: int | None = None  # a statement's account
    period_key: str
    period_start: date | None = None
    period_end: date | None = None
    recipient: str
    planned_at: datetime = when(required=True)
    outbox_id: int | None = None


class NoticeItem(SQLModel, table=True):
    """A record a digest told a contact about: never told twice."""

    __tablename__ = "notice_item"
    __table_args__ = (UniqueConstraint("contact_id", "record_kind", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    contact_id: int
    record_kind: str  # invoice, document
    record_id: int
