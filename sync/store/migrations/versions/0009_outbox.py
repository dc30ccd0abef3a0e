"""outbox: mail written in the same transaction as the event that causes it

Revision ID: 0009_outbox
Revises: 0008_settlement_first_reported
Create Date: 2026-12-06 23:40:00

Sign-in links, invitations and notices were queued in each web worker's memory: lost on
a restart, never retried. They are rows now (``sync.access.outbox``), sent by
``billfold run`` and by ``billfold serve``'s workers with retries and backoff. A link's
secret is never stored: the row names its ``login_token`` and the sender gives that
row a new secret when it sends.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009_outbox"
down_revision = "0008_settlement_first_reported"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", text, nullable=False),
        sa.Column("recipient", text, nullable=False),
        sa.Column("principal_kind", text, nullable=True),
        sa.Column("requested_ip", text, nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("admin_link", sa.Boolean(), nullable=False),
        sa.Column("invited", sa.Boolean(), nullable=False),
        sa.Column("subject", text, nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("state", text, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", text, nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_state_due", ["state", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_due")
    op.drop_table("outbox")
