"""account names to confirm: an account whose customer id carried several names is held

Revision ID: 0007_account_names_to_confirm
Revises: 0006_claim_last_modified
Create Date: 2027-01-10 09:00:00

``account.names_to_confirm`` lists the different names one customer id carried (a JSON
list); while it is set, the portal never opens to the account, until an admin confirms
the names are one customer (they move to ``account.confirmed_names``, so the same names
in later imports do not hold it again).

Stores imported before this revision may already hold such merges: an export that wrote
``null``, ``N/A`` or ``0`` in its customer-id column made every customer without an id one
account. Those accounts are keyed by the placeholder itself (or, for a site, start with
it: ``null:Elm Court``), so they are held here (with their current name) and stay closed to the portal until an admin has looked at them;
imports from now on give each of those customers their own account by name. The list of
placeholders is frozen here on purpose (``adapters.keys`` may grow later).
"""

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0007_account_names_to_confirm"
down_revision = "0006_claim_last_modified"
branch_labels = None
depends_on = None

_WORDS = frozenset(
    (
        "null", "none", "nil", "na", "n/a", "n.a.", "n.a", "nan", "nat", "undefined",
        "unknown", "missing", "blank", "empty", "no id", "noid", "not set", "notset",
        "not applicable", "tbd", "tba", "#n/a", "#na", "#null!", "#ref!", "#value!",
        "#name?", "#div/0!", "#num!", "#n/a n/a",
    )
)  # fmt: skip
_FILLER = re.compile(r"^[0\-._?\s\u2012\u2013\u2014\u2212]*$")
_WRAPPERS = "()[]{}<>\"'"


def _placeholder(key: str) -> bool:
    value = key.strip().casefold()
    while value[:1] and value[:1] in _WRAPPERS and value[-1:] in _WRAPPERS:
        value = value[1:-1].strip()
    return value in _WORDS or bool(_FILLER.match(value))


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("names_to_confirm", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_names", sa.Text(), nullable=True))
    conn = op.get_bind()
    account = sa.table(
        "account",
        sa.column("id", sa.Integer),
        sa.column("external_key", sa.String),
        sa.column("name", sa.String),
        sa.column("names_to_confirm", sa.Text),
    )
    held = [
        {"account_id": row.id, "names": json.dumps([row.name], ensure_ascii=False)}
        for row in conn.execute(
            sa.select(account.c.id, account.c.external_key, account.c.name)
        )
        # An account named after its key has no id to be wrong; a site's key starts
        # with its customer's (``null:Elm Court``).
        if row.external_key != row.name
        and _placeholder(row.external_key.partition(":")[0])
    ]
    if held:
        conn.execute(
            account.update()
            .where(account.c.id == sa.bindparam("account_id"))
            .values(names_to_confirm=sa.bindparam("names")),
            held,
        )


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("confirmed_names")
        batch_op.drop_column("names_to_confirm")
