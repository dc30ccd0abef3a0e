"""pull requests and webhook events: a webhook asks for a pull, a worker takes it

Revision ID: 0015_pull_requests
Revises: 0014_connections
Create Date: 2026-12-07 02:50:00

``/hooks/xero`` and ``/hooks/quickbooks`` record each accepted call
(``webhook_events``: a summary, never the signature or the raw body), count refused
ones by reason (``webhook_refusals``), and ask for a pull of the source
(``pull_requests``: at most one waiting per source, taken atomically by a worker).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0015_pull_requests"
down_revision = "0014_connections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "pull_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", text, nullable=False),
        sa.Column("reason", text, nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pull_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ux_pull_requests_waiting",
            ["source"],
            unique=True,
            sqlite_where=sa.text("taken_at IS NULL"),
            postgresql_where=sa.text("taken_at IS NULL"),
        )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", text, nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("pull_request_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_events_source", ["source", "received_at"], unique=False
        )
    op.create_table(
        "webhook_refusals",
        sa.Column("system", text, nullable=False),
        sa.Column("reason", text, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("system", "reason"),
    )


def downgrade() -> None:
    op.drop_table("webhook_refusals")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_source")
    op.drop_table("webhook_events")
    with op.batch_alter_table("pull_requests", schema=None) as batch_op:
        batch_op.drop_index("ux_pull_requests_waiting")
    op.drop_table("pull_requests")
