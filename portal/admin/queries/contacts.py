"""Contacts as the admin sees them: the searchable list with each one's grants and
newest invitation, and one contact's access, links, sessions and activity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, or_, select

from portal.admin.queries import contains
from schemas.tables import (
    ACCOUNTS,
    AUDIT_EVENTS,
    CONTACTS,
    GRANTS,
    LOGIN_TOKENS,
    PORTAL_SESSIONS,
)

C = CONTACTS
G = GRANTS
A = ACCOUNTS
T = LOGIN_TOKENS
S = PORTAL_SESSIONS
E = AUDIT_EVENTS


def last_invites(conn: Connection, ids: list[int]) -> dict[int, Any]:
    """The newest invitation link of each contact."""
    newest: dict[int, Any] = {}
    rows = conn.execute(
        select(T.c.principal_id, T.c.created_at, T.c.expires_at, T.c.used_at)
        .where(
            T.c.principal_kind == "contact",
            T.c.purpose == "invite",
            T.c.principal_id.in_(ids),
        )
        .order_by(T.c.created_at, T.c.id)
    )
    for r in rows:
        newest[r.principal_id] = r
    return newest


@dataclass
class ContactPage:
    """One page of the contacts list."""

    total: int
    pages: int
    page: int
    rows: Sequence[Any]
    grants: dict[int, list[Any]]  # contact id -> its grants, by account
    invites: dict[int, Any]  # contact id -> its newest invitation


def contact_page(
    conn: Connection, q: str, status: str, page: int, size: int
) -> ContactPage:
    """Contacts whose email, name, or a granted account's name or key contains *q*,
    in *status* (all, revoked, signed_in, invited), by email; page *page* of *size*
    (the last page when *page* is beyond it)."""
    stmt = select(C)
    if q:
        pattern = contains(q)
        on_account = exists(
            select(G.c.id)
            .join(A, A.c.id == G.c.account_id)
            .where(
                G.c.contact_id == C.c.id,
                or_(
                    A.c.name.ilike(pattern, escape="\\"),
                    A.c.external_key.ilike(pattern, escape="\\"),
                ),
            )
        )
        stmt = stmt.where(
            or_(
                C.c.email.ilike(pattern, escape="\\"),
                C.c.name.ilike(pattern, escape="\\"),
                on_account,
            )
        )
    if status == "revoked":
        stmt = stmt.where(C.c.revoked_at.is_not(None))
    elif status == "signed_in":
        stmt = stmt.where(C.c.revoked_at.is_(None), C.c.last_sign_in_at.is_not(None))
    elif status == "invited":
        stmt = stmt.where(C.c.revoked_at.is_(None), C.c.last_sign_in_at.is_(None))
    total = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    pages = max(1, -(-total // size))
    page = min(page, pages)
    rows = conn.execute(
        stmt.order_by(C.c.email).limit(size).offset((page - 1) * size)
    ).all()
    ids = [r.id for r in rows]
    grants: dict[int, list[Any]] = {i: [] for i in ids}
    for gr in conn.execute(
        select(G.c.contact_id, G.c.account_id, G.c.role)
        .where(G.c.contact_id.in_(ids))
        .order_by(G.c.account_id)
    ):
        grants[gr.contact_id].append(gr)
    return ContactPage(total, pages, page, rows, grants, last_invites(conn, ids))


@dataclass
class ContactHistory:
    """One contact's grants, recent links, live sessions and recent activity."""

    grants: Sequence[Any]
    invites: Sequence[Any]
    sessions: int
    activity: Sequence[Any]
    ended_by: str | None = None  # who revoked the contact's access, last time


def contact_history(conn: Connection, contact_id: int, now: datetime) -> ContactHistory:
    """What the contact page shows of *contact_id* beyond the contact row itself."""
    grants = conn.execute(
        select(G.c.account_id, G.c.role, G.c.created_at)
        .where(G.c.contact_id == contact_id)
        .order_by(G.c.created_at)
    ).all()
    invites = conn.execute(
        select(T.c.created_at, T.c.expires_at, T.c.used_at, T.c.purpose, T.c.email)
        .where(T.c.principal_kind == "contact", T.c.principal_id == contact_id)
        .order_by(T.c.created_at.desc(), T.c.id.desc())
        .limit(5)
    ).all()
    sessions = conn.execute(
        select(func.count()).where(
            S.c.principal_kind == "contact",
            S.c.principal_id == contact_id,
            S.c.revoked_at.is_(None),
            S.c.expires_at > now,
        )
    ).scalar_one()
    activity = conn.execute(
        select(E)
        .where(
            or_(
                E.c.actor == f"contact:{contact_id}",
                (E.c.record_kind == "contact") & (E.c.record_id == contact_id),
            )
        )
        .order_by(E.c.at.desc(), E.c.id.desc())
        .limit(15)
    ).all()
    ended = conn.execute(
        select(E.c.actor)
        .where(
            E.c.action == "revoke",
            E.c.record_kind == "contact",
            E.c.record_id == contact_id,
        )
        .order_by(E.c.at.desc(), E.c.id.desc())
        .limit(1)
    ).scalar()
    return ContactHistory(grants, invites, sessions, activity, _actor_words(ended))


def _actor_words(actor: str | None) -> str | None:
    """Who an audit actor is, in words (an admin by address)."""
    if actor is None:
        return None
    kind, _, ident = actor.partition(":")
    if kind == "admin":
        return ident
    if actor == "cli":
        return "the command line (billfold revoke)"
    return actor
