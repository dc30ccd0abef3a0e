"""Rate limits: sign-in attempts counted per address and per client."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, func, insert, select

from schemas.tables import (
    SIGN_IN_ATTEMPTS,
    utcnow,
)
from sync.access.links import digest

R = SIGN_IN_ATTEMPTS


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
