"""A visit: the session behind a request, its contact and their scope, in one round trip.

Every customer page needs the same facts before it can answer: the session (live, not
revoked, not idle), the contact (not revoked), the accounts they may see (their grants,
the sites under them, the accounts above them for the enabled flag) and, for the home
page, how fresh each source's figures are. ``find_visit`` asks for all of it in ONE
statement: recursive CTEs walk the account tree down from the grants and up to the
roots, and each row carries the session and contact beside one account. Nothing is
cached between requests, so a session or contact revoked on any worker is refused on
the very next request everywhere; the scope rule itself is ``grants.visible_from``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, true

from schemas.tables import (
    ACCOUNTS,
    CONTACTS,
    GRANTS,
    IMPORT_BATCHES,
    PORTAL_SESSIONS,
    utcnow,
)
from sync.access.grants import visible_from
from sync.access.links import digest
from sync.access.sessions import TOUCH_EVERY, SessionInfo

A = ACCOUNTS
B = IMPORT_BATCHES
C = CONTACTS
G = GRANTS
S = PORTAL_SESSIONS
_CONTACT_COLUMNS = tuple(c.name for c in C.c)
_SESSION_COLUMNS = (
    "id", "principal_kind", "principal_id", "created_at", "current_account_id",
    "revoked_at", "expires_at", "last_seen_at",
)  # fmt: skip


@dataclass(frozen=True)
class Visit:
    """What a request learnt about its visitor in one round trip."""

    session: SessionInfo
    touch: bool  # the session's last-seen time is due to be written
    contact: dict[str, Any] | None  # None for an admin's session
    roles: dict[int, str]  # visible account -> "billing" or "documents"
    names: dict[int, str]
    parents: dict[int, int | None]
    # visible account -> (its source, the source's latest applied export's as-of and
    # latest applied import's end); empty unless asked for
    fresh: dict[int, tuple[str, datetime | None, datetime | None]]


def find_visit(
    conn: Connection, token: str, idle_minutes: int, *, freshness: bool = False
) -> Visit | None:
    """Return the live session for a cookie secret with its contact and scope, or None.

    An admin's session comes back with no contact (the caller loads the admin); a
    revoked contact, or a session revoked, expired or idle, is None.
    """
    rows = conn.execute(_visit_query(freshness), {"token_hash": digest(token)}).all()
    if not rows:
        return None
    first = rows[0]
    now = utcnow()
    if (
        first.s_revoked_at is not None
        or first.s_expires_at <= now
        or first.s_last_seen_at + timedelta(minutes=idle_minutes) <= now
    ):
        return None
    info = SessionInfo(
        first.s_id,
        first.s_kind,
        first.s_principal_id,
        first.s_created_at,
        first.s_current_account_id,
    )
    touch = now - first.s_last_seen_at >= TOUCH_EVERY
    if info.kind != "contact":
        return Visit(info, touch, None, {}, {}, {}, {})
    if first.c_id is None or first.c_revoked_at is not None:
        return None
    contact = {name: getattr(first, f"c_{name}") for name in _CONTACT_COLUMNS}
    grants: dict[int, str] = {}
    nodes: dict[int, tuple[int | None, bool, bool]] = {}
    names: dict[int, str] = {}
    fresh: dict[int, tuple[str, datetime | None, datetime | None]] = {}
    for r in rows:
        if r.a_id is None:
            continue
        nodes[r.a_id] = (r.a_parent_id, bool(r.a_enabled), bool(r.a_held))
        names[r.a_id] = r.a_name
        if r.g_role is not None:
            grants[r.a_id] = r.g_role
        if freshness and (r.f_as_of is not None or r.f_finished is not None):
            fresh[r.a_id] = (r.a_source, r.f_as_of, r.f_finished)
    roles = visible_from(grants, nodes)
    return Visit(
        info,
        touch,
        contact,
        roles,
        {a: names[a] for a in roles},
        {a: nodes[a][0] for a in roles},
        {a: fresh[a] for a in roles if a in fresh},
    )


@cache
def _visit_query(freshness: bool) -> Any:
    """The visit's statement, built once per process (the token is a bound parameter):
    building it is a good part of a request's Python time."""
    session = (
        select(*(S.c[name] for name in _SESSION_COLUMNS))
        .where(S.c.token_hash == bindparam("token_hash"))
        .cte("visit_session")
    )
    grants = (
        select(G.c.account_id, G.c.role)
        .join(
            session,
            and_(
                session.c.principal_kind == "contact",
                G.c.contact_id == session.c.principal_id,
            ),
        )
        .cte("visit_grant")
    )
    down = select(grants.c.account_id.label("id")).cte("visit_down", recursive=True)
    down = down.union(select(A.c.id).join(down, A.c.parent_id == down.c.id))
    up = select(down.c.id).cte("visit_up", recursive=True)
    up = up.union(
        select(A.c.parent_id)
        .join(up, A.c.id == up.c.id)
        .where(A.c.parent_id.is_not(None))
    )
    node_columns = [
        A.c.id.label("a_id"),
        A.c.parent_id.label("a_parent_id"),
        A.c.portal_enabled.label("a_enabled"),
        A.c.names_to_confirm.is_not(None).label("a_held"),
        A.c.name.label("a_name"),
        A.c.source.label("a_source"),
        grants.c.role.label("g_role"),
    ]
    joined = A.join(up, up.c.id == A.c.id).outerjoin(
        grants, grants.c.account_id == A.c.id
    )
    if freshness:
        latest = (
            select(
                B.c.source,
                func.max(B.c.as_of).label("as_of"),
                func.max(B.c.finished_at).label("finished"),
            )
            .where(B.c.status == "applied")
            .group_by(B.c.source)
            .subquery("visit_fresh")
        )
        node_columns += [
            latest.c.as_of.label("f_as_of"),
            latest.c.finished.label("f_finished"),
        ]
        joined = joined.outerjoin(latest, latest.c.source == A.c.source)
    nodes = select(*node_columns).select_from(joined).subquery("visit_node")
    contact_columns = [C.c[name].label(f"c_{name}") for name in _CONTACT_COLUMNS]
    return select(
        session.c.id.label("s_id"),
        session.c.principal_kind.label("s_kind"),
        session.c.principal_id.label("s_principal_id"),
        session.c.created_at.label("s_created_at"),
        session.c.current_account_id.label("s_current_account_id"),
        session.c.revoked_at.label("s_revoked_at"),
        session.c.expires_at.label("s_expires_at"),
        session.c.last_seen_at.label("s_last_seen_at"),
        *contact_columns,
        *nodes.c,
    ).select_from(
        session.outerjoin(
            C,
            and_(
                session.c.principal_kind == "contact", C.c.id == session.c.principal_id
            ),
        ).outerjoin(nodes, true())
    )
