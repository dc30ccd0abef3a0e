"""One-time sign-in links: issued with a random secret stored hashed, consumed once.

A link is consumed by one atomic ``UPDATE ... WHERE used_at IS NULL``, so two clicks
racing each other sign in once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, insert, select, update

from schemas.tables import (
    LOGIN_TOKENS,
    utcnow,
)

T = LOGIN_TOKENS


def digest(secret: str) -> str:
    """Return the stored form of a link or session secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


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
    return issue_link_row(
        conn, kind, principal_id, email, minutes, purpose=purpose, ip=ip
    )[0]


def issue_link_row(
    conn: Connection,
    kind: str,
    principal_id: int,
    email: str,
    minutes: int,
    *,
    purpose: str = "sign_in",
    ip: str | None = None,
) -> tuple[str, int]:
    """Create a one-time sign-in token; return its secret and its row's id."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row_id: int = conn.execute(
        insert(T)
        .values(
            token_hash=digest(token),
            principal_kind=kind,
            principal_id=principal_id,
            email=email,
            purpose=purpose,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
            requested_ip=ip,
        )
        .returning(T.c.id)
    ).scalar_one()
    return token, row_id


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
