"""API connections: Xero and QuickBooks Online sources' tokens, state and pull cursor

Revision ID: 0014_connections
Revises: 0013_notices
Create Date: 2026-12-07 02:40:00

One row per API source (``kind = "xero" | "quickbooks"``): the access and refresh tokens
encrypted with a key derived from the install's secret key, whether the connection works
or was revoked, and where the last pull got to (so a pull cut off resumes there).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_connections"
down_revision = "0013_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_connection",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("tenant", sa.String(), nullable=True),
        sa.Column("access_token", sa.LargeBinary(), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_token", sa.LargeBinary(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("auth_state", sa.String(), nullable=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("last_pull_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("api_connection")
