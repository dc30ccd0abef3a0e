"""Contacts and admins: the people who may sign in, found by email.

Revoking a contact or changing its address ends its sessions and kills its unused
links at once (``sync.access.sessions``, ``sync.access.links``).
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from schemas.limits import is_email_address
from schemas.tables import (
    ADMIN_USERS,
    CONTACTS,
    utcnow,
)
from sync.access.links import kill_links
from sync.access.sessions import end_sessions_of
from sync.errors import UsageError
from sync.store.audit import record

C = CONTACTS
AD = ADMIN_USERS


def normalise_email(text: str) -> str:
    """Return an email address in its stored form, or raise UsageError if it is not one."""
    email = text.strip().lower()
    if not is_email_address(email):
        raise UsageError(f"{text!r} is not an email address")
    return email


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


def revoke_access(
    conn: Connection, contact_id: int, *, actor: str, ip: str | None = None
) -> None:
    """Revoke a contact (sessions end, links die) and audit it."""
    revoke_contact(conn, contact_id)
    record(conn, actor, "revoke", record_kind="contact", record_id=contact_id, ip=ip)


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


# -- admins ----------------------------------------------------------------------------


def admin_by_id(conn: Connection, admin_id: int) -> dict | None:
    """Return the admin with *admin_id*, or None."""
    row = conn.execute(select(AD).where(AD.c.id == admin_id)).mappings().first()
    return dict(row) if row else None


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
