"""Grants: which accounts a contact may see, with which role, and whether it may sign in.

A grant on a parent account covers its sites; an account not enabled for the portal
is seen by no one (``set_portal_enabled``).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, func, insert, select, update

from schemas.tables import (
    ACCOUNTS,
    CONTACTS,
    GRANTS,
    utcnow,
)
from sync.access.contacts import contact_by_id
from sync.errors import UsageError
from sync.ledger.identity import check_may_open
from sync.store.audit import record

C = CONTACTS
G = GRANTS
A = ACCOUNTS


ROLES = ("billing", "documents")


def grant_access(conn: Connection, contact_id: int, account_id: int, role: str) -> None:
    """Let a contact see an account (and its sites) with *role*; re-enable a revoked one."""
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    existing = conn.execute(
        select(G.c.id).where(G.c.contact_id == contact_id, G.c.account_id == account_id)
    ).first()
    if existing:
        conn.execute(update(G).where(G.c.id == existing.id).values(role=role))
    else:
        conn.execute(
            insert(G).values(
                contact_id=contact_id,
                account_id=account_id,
                role=role,
                created_at=utcnow(),
            )
        )
    conn.execute(
        update(C)
        .where(C.c.id == contact_id)
        .values(revoked_at=None, invited_at=func.coalesce(C.c.invited_at, utcnow()))
    )


def add_grant(
    conn: Connection,
    contact_id: int,
    account_id: int,
    role: str,
    *,
    actor: str,
    ip: str | None = None,
) -> None:
    """Give an existing, not revoked, contact one more account (or change its role)."""
    contact = contact_by_id(conn, contact_id)
    if contact is None:
        raise UsageError(f"there is no contact {contact_id}")
    if contact["revoked_at"] is not None:
        raise UsageError(
            f"{contact['email']}'s access was revoked; invite them again to restore it"
        )
    grant_access(conn, contact_id, account_id, role)
    record(
        conn, actor, "grant_added", account_id=account_id, record_kind="contact",
        record_id=contact_id, ip=ip, role=role,
    )  # fmt: skip


def remove_grant(
    conn: Connection,
    contact_id: int,
    account_id: int,
    *,
    actor: str,
    ip: str | None = None,
) -> None:
    """Take one account (and its sites) away from a contact; effective at once."""
    result = conn.execute(
        G.delete().where(G.c.contact_id == contact_id, G.c.account_id == account_id)
    )
    if result.rowcount != 1:
        raise UsageError("that contact has no access to that account")
    record(
        conn, actor, "grant_removed", account_id=account_id, record_kind="contact",
        record_id=contact_id, ip=ip,
    )  # fmt: skip


def set_portal_enabled(
    conn: Connection,
    account_id: int,
    enabled: bool,
    *,
    actor: str,
    ip: str | None = None,
) -> None:
    """Open (or close) the portal for an account and, through it, all its sites.

    Raises AccountHeld when opening an account whose names await confirmation.
    """
    if enabled:
        check_may_open(conn, account_id)
    conn.execute(update(A).where(A.c.id == account_id).values(portal_enabled=enabled))
    action = "portal_enabled" if enabled else "portal_disabled"
    record(conn, actor, action, account_id=account_id, ip=ip)


def visible_accounts(conn: Connection, contact_id: int) -> dict[int, str]:
    """Return the accounts a contact may see, each with the role that applies to it.

    A grant covers its account and every site under it. Only accounts enabled for the
    portal count; an account is enabled when it or any account above it is (so a pilot
    can enable one parent and all its sites). Where two grants cover an account, the
    wider role (``billing``) applies. An account held for its names
    (``sync.ledger.identity``) is never visible, and neither its grants nor its switch open
    anything, itself or its sites.
    """
    grants = {
        r.account_id: r.role
        for r in conn.execute(
            select(G.c.account_id, G.c.role).where(G.c.contact_id == contact_id)
        )
    }
    if not grants:
        return {}
    # id -> (parent, enabled, held)
    nodes: dict[int, tuple[int | None, bool, bool]] = {}
    columns = (A.c.id, A.c.parent_id, A.c.portal_enabled, A.c.names_to_confirm)
    frontier = list(grants)
    column = A.c.id
    while frontier:  # the granted accounts, then their sites, level by level
        rows = conn.execute(select(*columns).where(column.in_(frontier))).all()
        frontier = [r.id for r in rows if r.id not in nodes]
        for r in rows:
            nodes.setdefault(
                r.id, (r.parent_id, r.portal_enabled, r.names_to_confirm is not None)
            )
        column = A.c.parent_id
    missing = {p for p, _, _ in nodes.values() if p is not None and p not in nodes}
    while missing:  # the accounts above the grants, for their enabled flags
        rows = conn.execute(select(*columns).where(A.c.id.in_(missing))).all()
        for r in rows:
            nodes[r.id] = (
                r.parent_id,
                r.portal_enabled,
                r.names_to_confirm is not None,
            )
        missing = {
            r.parent_id
            for r in rows
            if r.parent_id is not None and r.parent_id not in nodes
        }
    return visible_from(grants, nodes)


def visible_from(
    grants: Mapping[int, str], nodes: Mapping[int, tuple[int | None, bool, bool]]
) -> dict[int, str]:
    """The rule of ``visible_accounts``, given the contact's grants (account -> role)
    and every account under and above them (id -> (parent, enabled, held))."""
    visible: dict[int, str] = {}
    for account_id in nodes:
        role = None
        enabled = False
        node: int | None = account_id
        seen: set[int] = set()
        covered = False
        while node is not None and node not in seen:
            seen.add(node)
            parent, flag, held = nodes.get(node, (None, False, False))
            if not held:
                enabled = enabled or flag
                if node in grants:
                    covered = True
                    role = (
                        "billing" if "billing" in (role, grants[node]) else grants[node]
                    )
            node = parent
        if covered and enabled and role and not nodes[account_id][2]:
            visible[account_id] = role
    return visible


def may_sign_in(conn: Connection, contact: dict) -> bool:
    """True for a contact who is not revoked and can see at least one enabled account."""
    return contact.get("revoked_at") is None and bool(
        visible_accounts(conn, contact["id"])
    )
