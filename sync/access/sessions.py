"""Sessions: server-side records, so signing out or revoking ends them on every worker."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from schemas.tables import (
    ADMIN_USERS,
    CONTACTS,
    PORTAL_SESSIONS,
    utcnow,
)
from sync.access.links import digest

C = CONTACTS
AD = ADMIN_USERS
S = PORTAL_SESSIONS


TOUCH_EVERY = timedelta(seconds=60)


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
