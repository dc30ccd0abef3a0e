"""Customer scope: the one place that decides what a contact may see.

The portal's read model (``portal.queries``) filters every customer query through
``Scope.where`` (or checks ``Scope.owns``), and so do the email notices
(``sync.access.notices``): a statement or digest shows exactly what the contact's
portal shows. A grant covers its account and all sites under it; only accounts
enabled for the portal count; the ``documents`` role sees documents, never amounts or
statements. A document linked to a hidden record (draft, deleted) is hidden with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, exists, or_, select

from schemas.settlement import HIDDEN_LIFECYCLES
from schemas.tables import ACCOUNTS, CREDIT_NOTES, DOCUMENTS, INVOICES
from sync.access.grants import visible_accounts

A = ACCOUNTS
D = DOCUMENTS
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

    def narrowed(self, account_id: int) -> Scope:
        """The same contact's scope with *account_id* (and its sites) in view."""
        if account_id not in self.roles:
            raise ValueError(f"account {account_id} is not visible to this contact")
        return Scope(self.contact_id, self.roles, self.names, self.parents, account_id)

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

    def documents_where(self) -> Any:
        """The documents in view. Copies of invoices and credit notes carry amounts:
        billing role only. A document linked to an invoice or credit note goes with it:
        hidden while the record is (draft, deleted), and never filed under another
        account than the record's."""
        return and_(
            or_(
                and_(
                    D.c.kind.in_(AMOUNT_DOCUMENT_KINDS),
                    D.c.account_id.in_(sorted(self.billing_ids)),
                ),
                and_(
                    D.c.kind.not_in(AMOUNT_DOCUMENT_KINDS),
                    D.c.account_id.in_(sorted(self.account_ids)),
                ),
            ),
            *(
                or_(
                    D.c[column].is_(None),
                    exists().where(
                        record.c.id == D.c[column],
                        record.c.account_id == D.c.account_id,
                        record.c.lifecycle.not_in(HIDDEN_LIFECYCLES),
                    ),
                )
                for column, record in (
                    ("invoice_id", INVOICES.alias("linked_invoice")),
                    ("credit_note_id", CREDIT_NOTES.alias("linked_credit_note")),
                )
            ),
        )


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
