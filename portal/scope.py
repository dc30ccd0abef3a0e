"""Customer scope: the one place that decides what a signed-in contact may see.

Every customer query filters through ``Scope.where`` (or checks ``Scope.owns``); a
record outside the scope is a 404, never a 403 that would confirm it exists. A grant
covers its account and all sites under it; only accounts enabled for the portal count;
the ``documents`` role sees documents, never amounts or statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import abort, g
from sqlalchemy import ColumnElement, Connection, Table, select

from schemas.tables import ACCOUNTS
from sync.access.grants import visible_accounts

A = ACCOUNTS
AMOUNT_DOCUMENT_KINDS = ("invoice_copy", "credit_note_copy")


@dataclass(frozen=True)
class Scope:
    """The accounts one contact sees right now."""

    contact_id: int
    roles: Mapping[int, str]  # every visible account -> "billing" or "documents"
    names: Mapping[int, str]
    parents: Mapping[int, int | None]
    current: int | None  # the account chosen in the switcher (with its sites), or all

    @property
    def roots(self) -> list[int]:
        """Visible accounts not under another visible account (the switcher's choices)."""
        return sorted(
            (a for a in self.roles if self.parents.get(a) not in self.roles),
            key=lambda a: self.names[a].casefold(),
        )

    def _under(self, root: int) -> set[int]:
        found = {root}
        changed = True
        while changed:
            changed = False
            for account, parent in self.parents.items():
                if parent in found and account not in found and account in self.roles:
                    found.add(account)
                    changed = True
        return found

    @property
    def account_ids(self) -> frozenset[int]:
        """Accounts in view: the chosen account and its sites, or every visible account."""
        if self.current is None:
            return frozenset(self.roles)
        return frozenset(self._under(self.current))

    @property
    def billing_ids(self) -> frozenset[int]:
        """Accounts in view whose amounts the contact may see."""
        return frozenset(a for a in self.account_ids if self.roles[a] == "billing")

    @property
    def sees_amounts(self) -> bool:
        """True when at least one account in view is visible with the billing role."""
        return bool(self.billing_ids)

    @property
    def several_accounts(self) -> bool:
        """True when the view spans more than one account (show which one each row is)."""
        return len(self.account_ids) > 1

    def where(self, table: Table, *, amounts: bool = True) -> ColumnElement[bool]:
        """The filter every customer query uses: rows of accounts in view."""
        ids = self.billing_ids if amounts else self.account_ids
        return table.c.account_id.in_(sorted(ids))

    def owns(self, account_id: int | None, *, amounts: bool = True) -> bool:
        """True when a record of *account_id* is in view."""
        return account_id in (self.billing_ids if amounts else self.account_ids)


def scope_for(conn: Connection, contact_id: int, current: int | None) -> Scope:
    """Build the scope of a contact (the chosen account must still be visible)."""
    roles = visible_accounts(conn, contact_id)
    rows = conn.execute(
        select(A.c.id, A.c.name, A.c.parent_id).where(A.c.id.in_(sorted(roles)))
    ).all()
    names = {r.id: r.name for r in rows}
    parents = {r.id: r.parent_id for r in rows}
    if current not in roles:
        current = None
    return Scope(contact_id, roles, names, parents, current)


def require_amounts() -> Scope:
    """Return the request's scope, or 404 when it may not see amounts."""
    scope: Scope = g.scope
    if not scope.sees_amounts:
        abort(404)
    return scope
