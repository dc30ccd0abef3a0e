"""claim last modified: an S3 object's LastModified kept on its claim

Revision ID: 0006_claim_last_modified
Revises: 0005_invoice_count_index
Create Date: 2026-12-14 09:00:00

An S3 object's as-of time is its LastModified, and a bucket is imported oldest first.
A claim taken over after a crash is imported from the claim row alone, so the row keeps
the LastModified it was listed with (NULL for claims made before this revision).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_claim_last_modified"
down_revision = "0005_invoice_count_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("file_claim", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_modified", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("file_claim", schema=None) as batch_op:
        batch_op.drop_column("last_modified")
