"""document type: a sales receipt or refund receipt is named so on its copy

Revision ID: 0012_document_type
Revises: 0011_ledger_kinds
Create Date: 2026-12-07 01:15:00

A QuickBooks SalesReceipt (or IIF CASH SALE) is stored as an invoice paid at issue and a
RefundReceipt as a credit note paid back at once; ``doc_type`` keeps what the billing
system called it, so the copy, the page and the statement say "Sales receipt 1003", not
"Invoice 1003". Existing rows are plain (null); the next import of a receipt sets it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_document_type"
down_revision = "0011_ledger_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("invoice", "credit_note"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("doc_type", sa.String(), nullable=True))


def downgrade() -> None:
    for table in ("invoice", "credit_note"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("doc_type")
