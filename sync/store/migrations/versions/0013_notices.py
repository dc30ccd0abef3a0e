"""notices: monthly statements and digests by email, opted into per contact and account

Revision ID: 0013_notices
Revises: 0012_document_type
Create Date: 2026-12-07 02:40:00

``notice_subscription`` keeps who asked for which notice of which account;
``notice`` records each notice planned (one per contact and period, written with its
outbox row before anything is sent); ``notice_item`` the records a digest told a
contact about, so none is told twice. An outbox row of kind ``notice`` names its
``notice_id`` and is composed when sent.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013_notices"
down_revision = "0012_document_type"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "notice_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", text, nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("changed_by", text, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "account_id", "kind"),
    )
    with op.batch_alter_table("notice_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_subscription_account_id"), ["account_id"]
        )
        batch_op.create_index(
            batch_op.f("ix_notice_subscription_contact_id"), ["contact_id"]
        )
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("kind", text, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("period_key", text, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("recipient", text, nullable=False),
        sa.Column("planned_at", sa.DateTime(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "period_key"),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notice_contact_planned", ["contact_id", "planned_at"]
        )
    op.create_table(
        "notice_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("record_kind", text, nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "record_kind", "record_id"),
    )
    with op.batch_alter_table("notice_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_item_notice_id"), ["notice_id"])
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("notice_id")
    op.drop_table("notice_item")
    op.drop_table("notice")
    op.drop_table("notice_subscription")
