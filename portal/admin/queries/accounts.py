"""The accounts tree (parents with their sites) and adoption per account, read for the
admin's rollout pages: who was invited, who signed in, what they viewed and downloaded
(counted from audit events)."""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from portal.queries import summary
from portal.scope import Scope
from schemas.tables import (
    ACCOUNTS,
    AUDIT_EVENTS,
    CONTACTS,
    GRANTS,
    INVOICES,
)

A = ACCOUNTS
C = CONTACTS
G = GRANTS
E = AUDIT_EVENTS
I = INVOICES  # noqa: E741
# Customer audit actions that count as a file downloaded / a record looked at.
DOWNLOADS = ("download_invoice_pdf", "download_document", "download_statement")
ZIP = "download_invoices_zip"
VIEWS = ("view_invoice", "view_credit_note")


@dataclass(frozen=True)
class Node:
    """One account as the tree shows it."""

    id: int
    source: str
    key: str
    name: str
    parent_id: int | None
    enabled: bool  # its own flag
    held: tuple[str, ...] = ()  # names its customer id carried, awaiting confirmation


@dataclass
class AccountTree:
    """Every account with its parent and sites, loaded once per page."""

    nodes: dict[int, Node]
    children: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection) -> AccountTree:
        """Read every account (id, names, parent, portal flag)."""
        rows = conn.execute(
            select(A.c.id, A.c.source, A.c.external_key, A.c.name, A.c.parent_id,
                   A.c.portal_enabled, A.c.names_to_confirm)
        ).all()  # fmt: skip
        nodes = {r.id: Node(r.id, r.source, r.external_key, r.name, r.parent_id,
                            bool(r.portal_enabled),
                            tuple(json.loads(r.names_to_confirm or "[]")))
                 for r in rows}  # fmt: skip
        children: dict[int, list[int]] = defaultdict(list)
        for n in nodes.values():
            if n.parent_id is not None and n.parent_id in nodes:
                children[n.parent_id].append(n.id)
        for ids in children.values():
            ids.sort(key=lambda i: nodes[i].name.casefold())
        return cls(nodes, dict(children))

    def parent(self, account_id: int) -> int | None:
        """The account above *account_id* (None for a top-level account)."""
        parent = self.nodes[account_id].parent_id
        return parent if parent in self.nodes else None

    def ancestors(self, account_id: int) -> list[int]:
        """The accounts above *account_id*, nearest first."""
        found: list[int] = []
        node = self.parent(account_id)
        while node is not None and node not in found and node != account_id:
            found.append(node)
            node = self.parent(node)
        return found

    def subtree(self, account_id: int) -> list[int]:
        """*account_id* and every site under it, in display order."""
        return [n for n, _ in self.walk([account_id])]

    def walk(self, roots: Iterable[int]) -> Iterator[tuple[int, int]]:
        """Yield (account id, depth) for *roots* and their sites, depth first."""
        seen: set[int] = set()
        stack = [(r, 0) for r in reversed(list(roots))]
        while stack:
            node, depth = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            yield node, depth
            stack.extend((c, depth + 1) for c in reversed(self.children.get(node, [])))

    @property
    def roots(self) -> list[int]:
        """Top-level accounts, by name."""
        return sorted(
            (n.id for n in self.nodes.values() if self.parent(n.id) is None),
            key=lambda i: (self.nodes[i].name.casefold(), self.nodes[i].source),
        )

    def enabled_by(self, account_id: int) -> int | None:
        """The account whose flag opens the portal to *account_id* (itself first).

        None for a held account, and a held account's flag opens nothing (as in
        ``sync.access.grants.visible_accounts``).
        """
        if self.nodes[account_id].held:
            return None
        for node in [account_id, *self.ancestors(account_id)]:
            if self.nodes[node].enabled and not self.nodes[node].held:
                return node
        return None

    def label(self, account_id: int) -> str:
        """``Parent › Site`` for a site, the name for a top-level account."""
        names = [self.nodes[a].name for a in reversed(self.ancestors(account_id))]
        return " › ".join([*names, self.nodes[account_id].name])

    def find(self, q: str, limit: int) -> tuple[list[int], int]:
        """Accounts whose name, customer number, source or parent's name holds *q*
        (any case, NFC), in tree order: the first *limit* and how many match."""
        needle = unicodedata.normalize("NFC", q).strip().casefold()
        matches = [
            n
            for n, _ in self.walk(self.roots)
            if not needle
            or any(
                needle in unicodedata.normalize("NFC", text).casefold()
                for text in (
                    self.nodes[n].name,
                    self.nodes[n].key,
                    self.nodes[n].source,
                    self.label(n),
                )
            )
        ]
        return matches[:limit], len(matches)

    def options(self) -> list[tuple[int, str]]:
        """(id, label) for every account in tree order, for a <select>."""
        return [
            (n, "\u2003" * depth + self.nodes[n].name + f" ({self.nodes[n].key})")
            for n, depth in self.walk(self.roots)
        ]


@dataclass
class Adoption:
    """How far one account (with its sites) has taken up the portal."""

    invited: set[int] = field(default_factory=set)  # contacts with access, not revoked
    signed_in: set[int] = field(default_factory=set)
    revoked: set[int] = field(default_factory=set)
    downloads: int = 0
    views: int = 0


def adoption(conn: Connection, tree: AccountTree) -> dict[int, Adoption]:
    """Adoption of every account, counting its sites and the grants that cover it."""
    contacts = {
        r.id: r
        for r in conn.execute(select(C.c.id, C.c.last_sign_in_at, C.c.revoked_at))
    }
    granted: dict[int, set[int]] = defaultdict(set)
    for r in conn.execute(select(G.c.account_id, G.c.contact_id)):
        granted[r.account_id].add(r.contact_id)
    own_downloads: dict[int, int] = defaultdict(int)
    own_views: dict[int, int] = defaultdict(int)
    counted = conn.execute(
        select(E.c.account_id, E.c.action, func.count().label("n"))
        .where(E.c.action.in_((*DOWNLOADS, *VIEWS)), E.c.actor.like("contact:%"))
        .group_by(E.c.account_id, E.c.action)
    ).all()
    for count in counted:
        if count.account_id is not None:
            own = own_downloads if count.action in DOWNLOADS else own_views
            own[count.account_id] += count.n
    zipped: list[int] = []
    for event in conn.execute(
        select(E.c.detail).where(E.c.action == ZIP, E.c.actor.like("contact:%"))
    ):
        found = json.loads(event.detail or "{}").get("invoices", [])
        zipped.extend(int(i) for i in found)
    if zipped:  # a ZIP is a download of each invoice PDF in it
        where = {
            r.id: r.account_id
            for r in conn.execute(
                select(I.c.id, I.c.account_id).where(I.c.id.in_(sorted(set(zipped))))
            )
        }
        for invoice_id in zipped:
            if invoice_id in where:
                own_downloads[where[invoice_id]] += 1
    result: dict[int, Adoption] = {}
    for account_id in tree.nodes:
        family = tree.subtree(account_id)
        people: set[int] = set()
        for a in (*family, *tree.ancestors(account_id)):
            people |= granted.get(a, set())
        entry = Adoption(
            downloads=sum(own_downloads.get(a, 0) for a in family),
            views=sum(own_views.get(a, 0) for a in family),
        )
        for contact_id in people:
            row = contacts.get(contact_id)
            if row is None:
                continue
            if row.revoked_at is not None:
                entry.revoked.add(contact_id)
                continue
            entry.invited.add(contact_id)
            if row.last_sign_in_at is not None:
                entry.signed_in.add(contact_id)
        result[account_id] = entry
    return result


def account_email(conn: Connection, account_id: int) -> str:
    """The email the billing system gave an account ("" when it gave none)."""
    found = conn.execute(select(A.c.email).where(A.c.id == account_id))
    return found.scalar_one_or_none() or ""


def people_of(conn: Connection, accounts: Iterable[int]) -> Sequence[Any]:
    """Contacts granted any of *accounts*, one row per grant, by email."""
    return conn.execute(
        select(
            C.c.id, C.c.email, C.c.name, C.c.invited_at, C.c.last_sign_in_at,
            C.c.revoked_at, G.c.account_id, G.c.role,
        )
        .join(G, G.c.contact_id == C.c.id)
        .where(G.c.account_id.in_(list(accounts)))
        .order_by(C.c.email, G.c.account_id)
    ).all()  # fmt: skip


def customer_activity(
    conn: Connection, accounts: Iterable[int], limit: int = 20
) -> tuple[Sequence[Any], dict[int, str]]:
    """The newest *limit* things customers did in *accounts*, and the email of each
    contact among them."""
    activity = conn.execute(
        select(E)
        .where(E.c.account_id.in_(list(accounts)), E.c.actor.like("contact:%"))
        .order_by(E.c.at.desc(), E.c.id.desc())
        .limit(limit)
    ).all()
    ids = {
        int(e.actor.split(":", 1)[1])
        for e in activity
        if e.actor.split(":", 1)[1].isdigit()
    }
    emails = {
        r.id: r.email
        for r in conn.execute(select(C.c.id, C.c.email).where(C.c.id.in_(sorted(ids))))
    }
    return activity, emails


def balances(
    conn: Connection, tree: AccountTree, account_id: int, today: date
) -> list[dict[str, Any]]:
    """What *account_id* (with its sites) owes and holds in credit, per currency: the
    customer home page's own figures (``portal.queries.summary``), read through a scope
    that sees the account as a contact granted it with the billing role would."""
    family = tree.subtree(account_id)
    scope = Scope(
        contact_id=0,
        roles={a: "billing" for a in family},
        names={a: tree.nodes[a].name for a in family},
        parents={a: tree.parent(a) for a in family},
        current=None,
    )
    return summary(conn, scope, today)
