"""settlement first reported: when an export first reported what settled an invoice

Revision ID: 0008_settlement_first_reported
Revises: 0007_account_names_to_confirm
Create Date: 2026-12-08 10:00:00

Exports such as Xero's CSV and invoice lists say an invoice is paid but not when. A
statement dates such a settlement on the day an export first reported it, so the store
keeps that day, and the amount it was for, beside each invoice and credit note
(``sync.engine.first_reports``). Existing rows start from what the store knows: the amount
settled now, reported on the day of the stored version.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_settlement_first_reported"
down_revision = "0007_account_names_to_confirm"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reported_settled_minor", sa.BigInteger(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("settled_first_reported_on", sa.Date(), nullable=True)
        )
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reported_used_minor", sa.BigInteger(), nullable=True)
        )
        batch_op.add_column(sa.Column("used_first_reported_on", sa.Date(), nullable=True))
    # date() reads a timestamp's day on SQLite and on PostgreSQL alike.
    op.execute(
        "UPDATE invoice SET reported_settled_minor ="
        " total_minor - balance_minor - marked_excess_minor,"
        " settled_first_reported_on = date(source_updated_at)"
        " WHERE lifecycle = 'issued' AND balance_minor IS NOT NULL"
    )
    op.execute(
        "UPDATE credit_note SET reported_used_minor = total_minor - remaining_minor,"
        " used_first_reported_on = date(source_updated_at)"
        " WHERE lifecycle = 'issued' AND remaining_minor IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.drop_column("used_first_reported_on")
        batch_op.drop_column("reported_used_minor")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("settled_first_reported_on")
        batch_op.drop_column("reported_settled_minor")
