"""Who may sign in, and how: contacts, grants, one-time links, sessions, rate limits.

Used by the portal (HTTP) and the CLI (``billfold invite``, ``login-link``, ``revoke``,
``enable``): the changes of who may see what live here once, each audited in the same
transaction as the change.
Secrets are random and only their SHA-256 is stored: a copy of the database gives no
working link or session. A link is consumed by one atomic ``UPDATE ... WHERE used_at IS
NULL``, so two clicks racing each other sign in once. Sessions live in the database, so
signing out or revoking a contact ends them at once, on every worker.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, select, update

from schemas.tables import (
    Account,
    AdminUser,
    Contact,
    Grant,
    LoginToken,
    PortalSession,
    SignInAttempt,
    utcnow,
)
from sync.audit import record
from sync.errors import UsageError
from sync.identity import check_may_open

ROLES = ("billing", "documents")
C = Contact.__table__  # type: ignore[attr-defined]
G = Grant.__table__  # type: ignore[attr-defined]
A = Account.__table__  # type: ignore[attr-defined]
AD = AdminUser.__table__  # type: ignore[attr-defined]
T = LoginToken.__table__  # type: ignore[attr-defined]
S = PortalSession.__table__  # type: ignore[attr-defined]
R = SignInAttempt.__table__  # type: ignore[attr-defined]
TOUCH_EVERY = timedelta(seconds=60)


def normalise_email(text: str) -> str:
    """Return an email address in its stored form, or raise UsageError if it is not one."""
    email = text.strip().lower()
    local, _, domain = email.rpartition("@")
    if (
        not local
        or "." not in domain
        or len(email) > 254
        or any(c.isspace() or c in "<>,;\"'\\" for c in email)
    ):
        raise UsageError(f"{text!r} is not an email address")
    return email


def digest(secret: str) -> str:
    """Return the stored form of a link or session secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def mask_email(email: str) -> str:
    """Return ``j***@example.com`` for showing which address a link belongs to."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


# -- contacts and grants -----------------------------------------------------------


def find_contact(conn: Connection, email: str) -> dict | None:
    """Return the contact with *email* (any case), or None."""
    row = (
        conn.execute(select(C).where(C.c.email == normalise_email(email)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def ensure_contact(conn: Connection, email: str, name: str | None = None) -> int:
    """Return the id of the contact with *email*, creating it if needed."""
    email = normalise_email(email)
    row = conn.execute(select(C.c.id, C.c.name).where(C.c.email == email)).first()
    if row:
        if name and not row.name:
            conn.execute(update(C).where(C.c.id == row.id).values(name=name))
        return row.id
    return conn.execute(
        insert(C).values(email=email, name=name, created_at=utcnow()).returning(C.c.id)
    ).scalar_one()


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


def revoke_contact(conn: Connection, contact_id: int) -> None:
    """End a contact's access at once: sessions end, outstanding links die."""
    now = utcnow()
    conn.execute(update(C).where(C.c.id == contact_id).values(revoked_at=now))
    end_sessions_of(conn, "contact", contact_id)
    kill_links(conn, "contact", contact_id)


def contact_by_id(conn: Connection, contact_id: int) -> dict | None:
    """Return the contact with *contact_id*, or None."""
    row = conn.execute(select(C).where(C.c.id == contact_id)).mappings().first()
    return dict(row) if row else None


def invite(
    conn: Connection,
    email: str,
    account_ids: list[int],
    role: str,
    *,
    actor: str,
    link_hours: int,
    name: str | None = None,
    ip: str | None = None,
) -> tuple[int, str]:
    """Grant *email* the accounts with *role* and issue an invitation link.

    Restores a revoked contact (inviting is an explicit decision). Returns the contact id
    and the link's secret, to be mailed after the transaction commits.
    """
    contact_id = ensure_contact(conn, email, name)
    for account_id in account_ids:
        grant_access(conn, contact_id, account_id, role)
        record(
            conn, actor, "invite", account_id=account_id, record_kind="contact",
            record_id=contact_id, ip=ip, role=role,
        )  # fmt: skip
    token = issue_link(
        conn, "contact", contact_id, normalise_email(email), link_hours * 60,
        purpose="invite", ip=ip,
    )  # fmt: skip
    return contact_id, token


def resend_invitation(
    conn: Connection,
    contact_id: int,
    *,
    actor: str,
    link_hours: int,
    ip: str | None = None,
) -> tuple[str, str]:
    """Issue a fresh invitation link; return (email, secret). Older links stay valid."""
    contact = contact_by_id(conn, contact_id)
    if contact is None:
        raise UsageError(f"there is no contact {contact_id}")
    if not may_sign_in(conn, contact):
        raise UsageError(
            f"{contact['email']} cannot sign in: access was revoked, or none of the "
            "accounts is enabled for the portal"
        )
    token = issue_link(
        conn, "contact", contact_id, contact["email"], link_hours * 60,
        purpose="invite", ip=ip,
    )  # fmt: skip
    record(
        conn, actor, "resend_invite", record_kind="contact", record_id=contact_id, ip=ip
    )
    return contact["email"], token


def revoke_access(
    conn: Connection, contact_id: int, *, actor: str, ip: str | None = None
) -> None:
    """Revoke a contact (sessions end, links die) and audit it."""
    revoke_contact(conn, contact_id)
    record(conn, actor, "revoke", record_kind="contact", record_id=contact_id, ip=ip)


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


def change_email(
    conn: Connection,
    contact_id: int,
    new_email: str,
    *,
    actor: str,
    ip: str | None = None,
) -> str:
    """Give a contact a new address; return the old one.

    Every session of the contact ends and every unused link dies: a link mailed to the
    old address must not keep working (a takeover through a changed address is how
    Odoo's 2016 portal bug worked).
    """
    contact = contact_by_id(conn, contact_id)
    if contact is None:
        raise UsageError(f"there is no contact {contact_id}")
    new = normalise_email(new_email)
    old = contact["email"]
    if new == old:
        raise UsageError(f"{new} is already this contact's address")
    if conn.execute(select(C.c.id).where(C.c.email == new)).first() is not None:
        raise UsageError(f"another contact already uses {new}")
    conn.execute(update(C).where(C.c.id == contact_id).values(email=new))
    end_sessions_of(conn, "contact", contact_id)
    kill_links(conn, "contact", contact_id)
    record(
        conn, actor, "change_email", record_kind="contact", record_id=contact_id,
        ip=ip, old=old, new=new,
    )  # fmt: skip
    return old


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


def kill_links(conn: Connection, kind: str, principal_id: int) -> None:
    """Make every unused sign-in link of a person unusable."""
    conn.execute(
        update(T)
        .where(
            T.c.principal_kind == kind,
            T.c.principal_id == principal_id,
            T.c.used_at.is_(None),
        )
        .values(expires_at=utcnow())
    )


def visible_accounts(conn: Connection, contact_id: int) -> dict[int, str]:
    """Return the accounts a contact may see, each with the role that applies to it.

    A grant covers its account and every site under it. Only accounts enabled for the
    portal count; an account is enabled when it or any account above it is (so a pilot
    can enable one parent and all its sites). Where two grants cover an account, the
    wider role (``billing``) applies. An account held for its names
    (``sync.identity``) is never visible, and neither its grants nor its switch open
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


# -- admins ----------------------------------------------------------------------------


def find_admin(conn: Connection, email: str) -> dict | None:
    """Return the admin with *email*, or None."""
    row = (
        conn.execute(select(AD).where(AD.c.email == normalise_email(email)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def ensure_admin(conn: Connection, email: str, name: str | None = None) -> int:
    """Create (or re-enable) an admin user; return its id."""
    email = normalise_email(email)
    row = conn.execute(select(AD.c.id).where(AD.c.email == email)).first()
    if row:
        conn.execute(update(AD).where(AD.c.id == row.id).values(revoked_at=None))
        return row.id
    return conn.execute(
        insert(AD)
        .values(email=email, name=name, created_at=utcnow())
        .returning(AD.c.id)
    ).scalar_one()


# -- one-time links ----------------------------------------------------------------------


def issue_link(
    conn: Connection,
    kind: str,
    principal_id: int,
    email: str,
    minutes: int,
    *,
    purpose: str = "sign_in",
    ip: str | None = None,
) -> str:
    """Create a one-time sign-in token; return the secret (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(
        insert(T).values(
            token_hash=digest(token),
            principal_kind=kind,
            principal_id=principal_id,
            email=email,
            purpose=purpose,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
            requested_ip=ip,
        )
    )
    return token


def link_url(base_url: str, token: str, admin: bool = False) -> str:
    """Return the absolute URL of a sign-in link (never built from a request's Host)."""
    path = "/admin/sign-in/" if admin else "/sign-in/"
    return base_url.rstrip("/") + path + token


@dataclass(frozen=True)
class LinkState:
    """What a sign-in link is, without using it up."""

    status: str  # valid, used, expired, unknown
    kind: str | None = None
    email: str | None = None


def inspect_link(conn: Connection, token: str) -> LinkState:
    """Tell whether *token* would sign someone in (a GET must never consume it)."""
    row = conn.execute(select(T).where(T.c.token_hash == digest(token))).first()
    if row is None:
        return LinkState("unknown")
    if row.used_at is not None:
        return LinkState("used", row.principal_kind, row.email)
    if row.expires_at <= utcnow():
        return LinkState("expired", row.principal_kind, row.email)
    return LinkState("valid", row.principal_kind, row.email)


def consume_link(conn: Connection, token: str, kind: str) -> int | None:
    """Use up a valid link of *kind* atomically; return the principal id, or None."""
    now = utcnow()
    hashed = digest(token)
    result = conn.execute(
        update(T)
        .where(
            T.c.token_hash == hashed,
            T.c.used_at.is_(None),
            T.c.expires_at > now,
            T.c.principal_kind == kind,
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:
        return None
    return conn.execute(
        select(T.c.principal_id).where(T.c.token_hash == hashed)
    ).scalar_one()


# -- rate limits ------------------------------------------------------------------------


def count_attempt(conn: Connection, email: str, ip: str | None) -> tuple[int, int]:
    """Record a link request; return how many this email and this IP made in the hour."""
    now = utcnow()
    email_hash = digest(email.strip().lower())
    conn.execute(insert(R).values(at=now, email_hash=email_hash, ip=ip))
    since = now - timedelta(hours=1)
    by_email = conn.execute(
        select(func.count()).where(R.c.email_hash == email_hash, R.c.at > since)
    ).scalar_one()
    by_ip = (
        conn.execute(
            select(func.count()).where(R.c.ip == ip, R.c.at > since)
        ).scalar_one()
        if ip
        else 0
    )
    return by_email, by_ip


# -- sessions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    """A live session."""

    id: int
    kind: str
    principal_id: int
    created_at: datetime
    current_account_id: int | None


def start_session(
    conn: Connection,
    kind: str,
    principal_id: int,
    hours: int,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """Open a session; return the cookie secret (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(
        insert(S).values(
            token_hash=digest(token),
            principal_kind=kind,
            principal_id=principal_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=hours),
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    table = C if kind == "contact" else AD
    conn.execute(
        update(table).where(table.c.id == principal_id).values(last_sign_in_at=now)
    )
    return token


def find_session(
    conn: Connection, token: str, idle_minutes: int
) -> tuple[SessionInfo, bool] | None:
    """Return the live session for a cookie secret and whether it should be touched."""
    row = conn.execute(select(S).where(S.c.token_hash == digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if (
        row.expires_at <= now
        or row.last_seen_at + timedelta(minutes=idle_minutes) <= now
    ):
        return None
    info = SessionInfo(
        row.id,
        row.principal_kind,
        row.principal_id,
        row.created_at,
        row.current_account_id,
    )
    return info, now - row.last_seen_at >= TOUCH_EVERY


def touch_session(conn: Connection, session_id: int) -> None:
    """Record that a session was just used (keeps it from idling out)."""
    conn.execute(update(S).where(S.c.id == session_id).values(last_seen_at=utcnow()))


def set_current_account(
    conn: Connection, session_id: int, account_id: int | None
) -> None:
    """Remember which of several accounts a session is looking at."""
    conn.execute(
        update(S).where(S.c.id == session_id).values(current_account_id=account_id)
    )


def end_session(conn: Connection, token: str) -> None:
    """Sign one browser out."""
    conn.execute(
        update(S)
        .where(S.c.token_hash == digest(token), S.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def end_sessions_of(conn: Connection, kind: str, principal_id: int) -> None:
    """Sign a person out everywhere."""
    conn.execute(
        update(S)
        .where(
            S.c.principal_kind == kind,
            S.c.principal_id == principal_id,
            S.c.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
