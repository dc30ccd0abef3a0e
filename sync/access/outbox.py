"""The outbox: mail as rows, written in the same transaction as the event that causes it.

A sign-in request, an invitation or a notice adds a row with ``enqueue_*`` inside the
caller's transaction, so the mail exists exactly when the event does. ``deliver_due``
sends what is due: ``billfold run`` calls it, and so does every web worker's
``sync.access.sender``. A sender first takes a row's lease (one atomic ``UPDATE``:
two senders never hold one row), then sends, then records the outcome; a refused or
unreachable server is tried again after ``smtp.retry_seconds``, doubling each time,
until ``smtp.max_attempts`` makes the row ``failed`` (``billfold status --mail``).

No usable secret is ever stored here. A link row names its ``login_token`` row, issued
with a secret nobody keeps; at send time the sender gives that row a fresh secret (only
its hash is stored, as always) and mails it, provided the link is still unused and
unexpired: a link killed meanwhile (address changed, access revoked) is ``dropped``.
A retry re-keys again, so only the last link sent works, once.

A ``request`` row is the sign-in form's: every address, known or not, gets one (the
form does the same work for both). The sender decides, as ``link_requests`` always
has: a request that is not due a link is deleted, leaving no trace of the address.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from schemas.tables import LOGIN_TOKENS, OUTBOX, utcnow
from sync.access import links
from sync.access.link_requests import LinkRequest, resolve_request
from sync.access.mail import MailError, Message, send, sign_in_message
from sync.config import Settings
from sync.log import event
from sync.store import Store

O = OUTBOX  # noqa: E741
T = LOGIN_TOKENS
WAITING, SENT, LOGGED, DROPPED, FAILED = (
    "waiting",
    "sent",
    "logged",
    "dropped",
    "failed",
)
MAX_BACKOFF = timedelta(hours=6)
SHOWN = 50


# -- writing: inside the caller's transaction ----------------------------------------------


def enqueue_message(conn: Connection, message: Message) -> int:
    """Queue a plain message (a notice); return its outbox id."""
    if message.link is not None:
        raise ValueError("a message with a link is queued with enqueue_link")
    return _insert(
        conn, kind="message", recipient=message.to, subject=message.subject,
        body=message.body,
    )  # fmt: skip


def enqueue_notice(conn: Connection, notice_id: int, to: str) -> int:
    """Queue a planned notice (composed when sent: ``sync.access.notice_mail``)."""
    return _insert(conn, kind="notice", recipient=to, notice_id=notice_id)


def enqueue_link(
    conn: Connection, token: str, to: str, *, admin: bool = False, invited: bool = False
) -> int:
    """Queue the mail of a link just issued in this transaction; return the outbox id.

    The caller forgets *token*: the sender gives the link a new secret when it sends,
    so the secret exists only in the mail (and *token* no longer signs anyone in).
    """
    token_id: int = conn.execute(
        select(T.c.id).where(T.c.token_hash == links.digest(token))
    ).scalar_one()
    return _insert(
        conn, kind="link", recipient=to, token_id=token_id, admin_link=admin,
        invited=invited,
    )  # fmt: skip


def enqueue_request(conn: Connection, kind: str, email: str, ip: str | None) -> int:
    """Queue a sign-in form's request (the sender decides whether a link is due)."""
    return _insert(
        conn, kind="request", recipient=email, principal_kind=kind, requested_ip=ip
    )


def _insert(conn: Connection, **values: Any) -> int:
    now = utcnow()
    return conn.execute(
        insert(O)
        .values(
            state=WAITING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            admin_link=values.pop("admin_link", False),
            invited=values.pop("invited", False),
            **values,
        )
        .returning(O.c.id)
    ).scalar_one()


# -- sending ----------------------------------------------------------------------------------


@dataclass
class Delivered:
    """What one ``deliver_due`` pass did."""

    sent: int = 0
    logged: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0

    @property
    def handled(self) -> int:
        """How many rows this pass took."""
        return self.sent + self.logged + self.retrying + self.failed + self.dropped


def lease_seconds(settings: Settings) -> int:
    """How long a sender holds a row: longer than one SMTP conversation can take."""
    return 3 * settings.smtp.timeout_seconds + 30


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: retry_seconds, doubling, capped."""
    wait = timedelta(seconds=settings.smtp.retry_seconds * 2 ** min(attempts - 1, 20))
    return min(wait, MAX_BACKOFF)


def due(now: datetime) -> Any:
    """Rows due to be sent at *now* and held by no sender."""
    return (
        (O.c.state == WAITING)
        & (O.c.next_attempt_at <= now)
        & or_(O.c.lease_until.is_(None), O.c.lease_until < now)
    )


def _take(
    store: Store, settings: Settings, owner: str, exclude: set[int]
) -> int | None:
    """Lease the oldest due row this pass has not handled; None when nothing is due."""
    now = utcnow()
    with store.write(ledger=False) as conn:
        ids: list[int] = list(
            conn.execute(
                select(O.c.id).where(due(now)).order_by(O.c.id).limit(len(exclude) + 5)
            ).scalars()
        )
        for row_id in ids:
            if row_id in exclude:
                continue
            taken = conn.execute(
                update(O)
                .where(O.c.id == row_id, due(now))
                .values(
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_seconds(settings)),
                )
            ).rowcount
            if taken == 1:
                return row_id
    return None


def _finish(store: Store, row_id: int, owner: str, **values: Any) -> None:
    with store.write(ledger=False) as conn:
        conn.execute(
            update(O)
            .where(O.c.id == row_id, O.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, **values)
        )


def _prepare(store: Store, settings: Settings, row_id: int) -> Message | str | None:
    """Turn a leased row into its mail: a Message, a reason to drop it, or None (gone).

    A request is resolved here (``link_requests``: issue the link and its audit event,
    or delete the row); a link row gets its fresh secret. One transaction each. A
    notice is composed in a read transaction (``sync.access.notice_mail``).
    """
    with store.read() as conn:
        notice_id = conn.execute(
            select(O.c.notice_id).where(O.c.id == row_id, O.c.kind == "notice")
        ).scalar_one_or_none()
        if notice_id is not None:
            # Imported here: notices plan through enqueue_notice, in this module.
            from sync.access.notice_mail import compose

            return compose(conn, settings, notice_id)
    with store.write(ledger=False) as conn:
        row = conn.execute(select(O).where(O.c.id == row_id)).one()
        if row.kind == "message":
            return Message(to=row.recipient, subject=row.subject, body=row.body or "")
        if row.kind == "request":
            request = LinkRequest(row.principal_kind, row.recipient, row.requested_ip)
            token_id = resolve_request(conn, settings, request)
            if token_id is None:
                conn.execute(delete(O).where(O.c.id == row_id))
                return None
            conn.execute(
                update(O)
                .where(O.c.id == row_id)
                .values(
                    kind="link",
                    token_id=token_id,
                    admin_link=row.principal_kind == "admin",
                )
            )
            row = conn.execute(select(O).where(O.c.id == row_id)).one()
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        rekeyed = conn.execute(
            update(T)
            .where(T.c.id == row.token_id, T.c.used_at.is_(None), T.c.expires_at > now)
            .values(token_hash=links.digest(secret))
        ).rowcount
        if rekeyed != 1:
            return "the link was used, expired or withdrawn before it could be sent"
    url = links.link_url(settings.base_url, secret, admin=row.admin_link)
    return sign_in_message(
        settings, row.recipient, url, invited=row.invited, admin=row.admin_link
    )


def deliver_due(
    store: Store, settings: Settings, owner: str, *, limit: int = 100
) -> Delivered:
    """Send up to *limit* due messages, each under this sender's lease; count outcomes."""
    done = Delivered()
    handled: set[int] = set()
    while len(handled) < limit:
        row_id = _take(store, settings, owner, handled)
        if row_id is None:
            break
        handled.add(row_id)
        try:
            prepared = _prepare(store, settings, row_id)
        except Exception as exc:  # a broken row must not stop the others
            event("mail.unsendable", logging.ERROR, outbox_id=row_id, error=repr(exc))
            _finish(store, row_id, owner, state=FAILED, last_error=repr(exc)[:500],
                    finished_at=utcnow())  # fmt: skip
            done.failed += 1
            continue
        if prepared is None:  # a request that was not due a link: deleted
            done.dropped += 1
            continue
        if isinstance(prepared, str):
            event("mail.dropped", logging.WARNING, outbox_id=row_id, reason=prepared)
            _finish(store, row_id, owner, state=DROPPED, last_error=prepared,
                    finished_at=utcnow())  # fmt: skip
            done.dropped += 1
            continue
        _attempt(store, settings, owner, row_id, prepared, done)
    return done


def _attempt(
    store: Store,
    settings: Settings,
    owner: str,
    row_id: int,
    message: Message,
    done: Delivered,
) -> None:
    with store.read() as conn:
        attempts: int = conn.execute(
            select(O.c.attempts).where(O.c.id == row_id)
        ).scalar_one()
    attempts += 1
    now = utcnow()
    try:
        sent = send(settings, message)
    except MailError as exc:
        if attempts >= settings.smtp.max_attempts:
            event("mail.gave_up", logging.ERROR, outbox_id=row_id, to=message.to,
                  attempts=attempts, error=str(exc))  # fmt: skip
            _finish(store, row_id, owner, state=FAILED, attempts=attempts,
                    last_error=str(exc)[:500], finished_at=now)  # fmt: skip
            done.failed += 1
            return
        retry_at = now + backoff(settings, attempts)
        event("mail.retry", logging.WARNING, outbox_id=row_id, to=message.to,
              attempts=attempts, retry_at=retry_at.isoformat(timespec="seconds"))  # fmt: skip
        _finish(store, row_id, owner, attempts=attempts, last_error=str(exc)[:500],
                next_attempt_at=retry_at)  # fmt: skip
        done.retrying += 1
        return
    _finish(store, row_id, owner, state=SENT if sent else LOGGED, attempts=attempts,
            last_error=None, finished_at=utcnow())  # fmt: skip
    if sent:
        done.sent += 1
    else:
        done.logged += 1


# -- what waits (billfold status, metrics) -----------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def state_of(conn: Connection, outbox_id: int) -> str | None:
    """The state of one outbox row (None: deleted)."""
    return conn.execute(
        select(O.c.state).where(O.c.id == outbox_id)
    ).scalar_one_or_none()


def outbox_counts(conn: Connection) -> dict[str, int]:
    """How many rows are in each state (every state named, zero included)."""
    counts = dict.fromkeys((WAITING, SENT, LOGGED, DROPPED, FAILED), 0)
    for row in conn.execute(
        select(O.c.state, func.count().label("n")).group_by(O.c.state)
    ):
        counts[row.state] = row.n
    return counts


def outbox_status(conn: Connection, *, detail: bool = False) -> dict[str, Any]:
    """What ``billfold status`` shows of the outbox; *detail* lists waiting and failed."""
    counts = outbox_counts(conn)
    oldest: datetime | None = conn.execute(
        select(func.min(O.c.created_at)).where(O.c.state == WAITING)
    ).scalar_one()
    out: dict[str, Any] = {
        "waiting": counts[WAITING],
        "failed": counts[FAILED],
        "oldest_waiting": _iso(oldest),
    }
    if detail:
        rows = conn.execute(
            select(O)
            .where(O.c.state.in_((WAITING, FAILED)))
            .order_by(O.c.state.desc(), O.c.id)
            .limit(SHOWN)
        ).all()
        out["messages"] = [
            {
                "id": r.id,
                "state": r.state,
                "kind": {"request": "sign-in request", "link": "link"}.get(
                    r.kind, "notice"
                ),
                "to": r.recipient,
                "attempts": r.attempts,
                "created": _iso(r.created_at),
                "next_attempt": _iso(r.next_attempt_at) if r.state == WAITING else None,
                "last_error": r.last_error,
            }
            for r in rows
        ]
    return out
