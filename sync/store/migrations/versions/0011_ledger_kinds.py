"""ledger kinds: refunds of credit notes and payments

Revision ID: 0011_ledger_kinds
Revises: 0010_copy_details
Create Date: 2026-12-07 00:00:00

A credit note's credit or an overpayment's cash may be paid back to the customer (Xero's
refund payments, QuickBooks refund receipts). The store keeps what the feed reports
refunded, and the day, beside each credit note and payment, so a statement shows the
refund on its day. Existing rows have no refund reported (null).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_ledger_kinds"
down_revision = "0010_copy_details"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("credit_note", "payment"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("refunded_minor", sa.BigInteger(), nullable=True)
            )
            batch_op.add_column(sa.Column("refunded_on", sa.Date(), nullable=True))


def downgrade() -> None:
    for table in ("payment", "credit_note"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("refunded_on")
            batch_op.drop_column("refunded_minor")
