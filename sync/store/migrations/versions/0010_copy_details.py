"""copy details: terms, tax mode, exchange rate, line kinds and attachments

Revision ID: 0010_copy_details
Revises: 0009_outbox
Create Date: 2026-12-06 23:45:00

What a customer's invoice copy shows beside its figures: the payment terms, whether line
amounts include tax, the exchange rate of a foreign-currency document, subtotal and
discount lines (kind ``subtotal``/``discount``, never summed), and the files attached to
a document in the billing system, listed by name until they are fetched. Existing lines
are item lines.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_copy_details"
down_revision = "0009_outbox"
branch_labels = None
depends_on = None

DOCUMENTS = ("invoice", "credit_note")
LINES = ("invoice_line", "credit_note_line")


def upgrade() -> None:
    for table in DOCUMENTS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("terms", sa.String(), nullable=True))
            batch_op.add_column(sa.Column("tax_mode", sa.String(), nullable=True))
            batch_op.add_column(sa.Column("exchange_rate", sa.String(), nullable=True))
    for table in LINES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("kind", sa.String(), nullable=False, server_default="item")
            )
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("document_kind", sa.String(), nullable=False),
        sa.Column("document_ref", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("content_type", sa.String(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("first_batch_id", sa.Integer(), nullable=True),
        sa.Column("last_batch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "source", "document_kind", "document_ref", "external_id"
        ),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attachment_document_id"), ["document_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_document_id"))
    op.drop_table("attachment")
    for table in LINES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("kind")
    for table in reversed(DOCUMENTS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("exchange_rate")
            batch_op.drop_column("tax_mode")
            batch_op.drop_column("terms")
