"""What webhooks leave behind: requests for a pull, the calls that made them, refusals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, text
from sqlmodel import Field, SQLModel

from schemas.tables.columns import when


class PullRequest(SQLModel, table=True):
    """A request to pull one API source soon (a webhook said something changed).

    At most one request per source waits untaken (a partial unique index): a burst of
    webhook calls asks for one pull. A worker takes waiting requests by setting
    ``taken_at`` in one statement, so two workers never take the same row.
    """

    __tablename__ = "pull_requests"
    __table_args__ = (
        Index(
            "ux_pull_requests_waiting",
            "source",
            unique=True,
            sqlite_where=text("taken_at IS NULL"),
            postgresql_where=text("taken_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    reason: str  # "webhook", "admin", ...
    detail: str = Field(default="", sa_type=Text)  # JSON text: what was asked for
    requested_at: datetime = when(required=True)
    taken_at: datetime | None = when()


class WebhookEvent(SQLModel, table=True):
    """One accepted webhook call: which source, when, and a summary of what it named.

    Never the signature, never the raw body.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_source", "source", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    received_at: datetime = when(required=True)
    summary: str = Field(default="", sa_type=Text)  # JSON text
    pull_request_id: int | None = None


class WebhookRefusal(SQLModel, table=True):
    """How many webhook calls were refused, per system and reason (a counter row)."""

    __tablename__ = "webhook_refusals"

    system: str = Field(primary_key=True)  # "xero" or "quickbooks": the URL called
    reason: str = Field(primary_key=True)  # unsigned, bad_signature, too_large, ...
    count: int = 0
    last_at: datetime | None = when()
