"""A request for a sign-in link, after the portal has answered it.

The sign-in form answers "check your email" at once and does the same work for every
address: it counts the attempt (rate limits) and queues a ``LinkRequest``. All that
depends on whether the address may sign in (looking it up, issuing the link, its audit
event, the mail) happens here, off the request path, so how fast the form answers
cannot tell a known address from an unknown one. A request for an address that may
not sign in ends here: no link, no audit event, no mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from sync.access import contacts, grants, links
from sync.config import Settings
from sync.store.audit import record


@dataclass(frozen=True)
class LinkRequest:
    """Someone asked the sign-in form for a link (kind ``contact`` or ``admin``)."""

    kind: str
    email: str  # normalised (access.normalise_email)
    ip: str | None = None


def may_sign_in(conn: Connection, kind: str, person: dict | None) -> dict | None:
    """Return *person* if they may sign in as *kind* now, else None."""
    if person is None or person.get("revoked_at") is not None:
        return None
    if kind == "admin":
        return person
    return person if grants.may_sign_in(conn, person) else None


def actor_of(kind: str, person: dict) -> str:
    """How the audit log names *person*: contacts by id, admins by address."""
    return f"admin:{person['email']}" if kind == "admin" else f"contact:{person['id']}"


def resolve_request(
    conn: Connection, settings: Settings, request: LinkRequest
) -> int | None:
    """Issue the link a request asked for (and its audit event); return the link's row
    id, or None if none is due. The caller (``outbox``) mails it under a fresh secret."""
    found: Any = (
        contacts.find_admin(conn, request.email)
        if request.kind == "admin"
        else contacts.find_contact(conn, request.email)
    )
    person = may_sign_in(conn, request.kind, found)
    if person is None:
        return None
    _, token_id = links.issue_link_row(
        conn, request.kind, person["id"], request.email,
        settings.portal.link_minutes, ip=request.ip,
    )  # fmt: skip
    record(conn, actor_of(request.kind, person), "sign_in_link_sent", ip=request.ip)
    return token_id
