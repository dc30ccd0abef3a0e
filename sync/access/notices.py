"""Notices by email: who asked for which, and planning what is due (``billfold run``).

A contact opts in per account (with its sites) and per kind:

* ``statement``: the previous calendar month's statement, PDF attached, sent on
  ``notices.statement_day`` of each month (billing role only: a statement has amounts);
* ``digest``: the invoices and documents that arrived since the contact subscribed and
  that no earlier digest told them about, ``notices.digest`` = daily or weekly (on
  Mondays). Nothing new: nothing is sent.

Planning writes, in one transaction per notice, the ``notice`` row (one per contact and
period: a unique key, so two ``billfold run`` nodes or a restart can never both plan
it), the records a digest lists (``notice_item``: one per contact and record, never told
twice) and its outbox row; the outbox sends it once (leases; ``sync.access.outbox``)
and ``sync.access.notice_mail`` composes it then, from what the contact may see at that
moment (``sync.access.scope``, the portal's read model): a contact revoked or an account
no longer granted gets nothing. The planning job itself runs under a job lock.

An unsubscribe link needs no sign-in: an itsdangerous token signed with the portal's
secret key, naming the contact and the kind (it never expires and cannot be forged).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from schemas.settlement import HIDDEN_LIFECYCLES
from schemas.tables import (
    ACCOUNTS,
    CONTACTS,
    DOCUMENTS,
    IMPORT_BATCHES,
    INVOICES,
    NOTICE_ITEMS,
    NOTICE_SUBSCRIPTIONS,
    NOTICES,
    OUTBOX,
    utcnow,
)
from sync import faults
from sync.access.contacts import contact_by_id
from sync.access.outbox import enqueue_notice
from sync.access.scope import Scope, scope_for
from sync.config import Settings
from sync.errors import UsageError
from sync.log import event
from sync.store import Store
from sync.store.audit import record
from sync.store.permissions import secret_key

S = NOTICE_SUBSCRIPTIONS
N = NOTICES
NI = NOTICE_ITEMS
A = ACCOUNTS
I = INVOICES  # noqa: E741
D = DOCUMENTS
B = IMPORT_BATCHES
O = OUTBOX  # noqa: E741
KINDS = ("statement", "digest")
KIND_LABELS = {
    "statement": "Monthly statement (PDF)",
    "digest": "New invoices and documents",
}
TOKEN_SALT = "billfold.notices.unsubscribe"  # noqa: S105 (a signature namespace, no secret)


# -- who asked for what ----------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One notice a contact may turn on or off: an account (with its sites) and a kind."""

    account_id: int
    account_name: str
    kind: str
    on: bool

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


def allowed_kinds(scope: Scope, account_id: int) -> tuple[str, ...]:
    """The notices *account_id* can have for this contact (a statement needs billing)."""
    if account_id not in scope.roles:
        return ()
    return KINDS if scope.roles[account_id] == "billing" else ("digest",)


def choices(conn: Connection, contact_id: int) -> list[Choice]:
    """Every notice the contact may have, per account they see at the top (with sites)."""
    scope = scope_for(conn, contact_id, None)
    chosen = {
        (r.account_id, r.kind)
        for r in conn.execute(
            select(S.c.account_id, S.c.kind).where(S.c.contact_id == contact_id)
        )
    }
    return [
        Choice(account, scope.names[account], kind, (account, kind) in chosen)
        for account in scope.roots
        for kind in allowed_kinds(scope, account)
    ]


def set_notice(
    conn: Connection,
    contact_id: int,
    account_id: int,
    kind: str,
    on: bool,
    *,
    actor: str,
    ip: str | None = None,
) -> bool:
    """Turn one notice on or off (audited); return True when it changed.

    Raises UsageError for an account the contact does not see, or a kind it cannot have.
    """
    contact = contact_by_id(conn, contact_id)
    if contact is None or contact["revoked_at"] is not None:
        raise UsageError("that contact's access has ended; invite them again first")
    scope = scope_for(conn, contact_id, None)
    if kind not in allowed_kinds(scope, account_id):
        raise UsageError(
            "that notice is not available for this account: a contact gets notices "
            "only for accounts they see, and statements only with the billing role"
        )
    where = (
        S.c.contact_id == contact_id,
        S.c.account_id == account_id,
        S.c.kind == kind,
    )
    exists = conn.execute(select(S.c.id).where(*where)).first() is not None
    if exists == on:
        return False
    if on:
        conn.execute(
            insert(S).values(
                contact_id=contact_id, account_id=account_id, kind=kind,
                since=utcnow(), changed_by=actor,
            )
        )  # fmt: skip
    else:
        conn.execute(delete(S).where(*where))
    record(
        conn, actor, "notice_on" if on else "notice_off", account_id=account_id,
        record_kind="contact", record_id=contact_id, ip=ip, notice=kind,
    )  # fmt: skip
    return True


def unsubscribe(
    conn: Connection, contact_id: int, kind: str, *, actor: str, ip: str | None = None
) -> int:
    """Turn off every notice of *kind* for the contact (audited); return how many."""
    accounts = [
        r.account_id
        for r in conn.execute(
            select(S.c.account_id).where(S.c.contact_id == contact_id, S.c.kind == kind)
        )
    ]
    if accounts:
        conn.execute(delete(S).where(S.c.contact_id == contact_id, S.c.kind == kind))
        for account_id in accounts:
            record(
                conn, actor, "notice_off", account_id=account_id, record_kind="contact",
                record_id=contact_id, ip=ip, notice=kind, unsubscribed=True,
            )  # fmt: skip
    return len(accounts)


def recipients(conn: Connection, contact_id: int | None = None) -> list[dict[str, Any]]:
    """Who receives what (admin pages): one row per subscription, with the last notice
    of that kind and whether the contact still gets it (not revoked, account in view)."""
    stmt = (
        select(
            S.c.contact_id, S.c.account_id, S.c.kind, S.c.since, S.c.changed_by,
            CONTACTS.c.email, CONTACTS.c.name.label("contact_name"),
            CONTACTS.c.revoked_at, A.c.name.label("account_name"),
        )
        .join(CONTACTS, CONTACTS.c.id == S.c.contact_id)
        .join(A, A.c.id == S.c.account_id)
        .order_by(CONTACTS.c.email, A.c.name, S.c.kind)
    )  # fmt: skip
    if contact_id is not None:
        stmt = stmt.where(S.c.contact_id == contact_id)
    rows = conn.execute(stmt).all()
    scopes: dict[int, Scope] = {}
    out = []
    for r in rows:
        if r.contact_id not in scopes:
            scopes[r.contact_id] = scope_for(conn, r.contact_id, None)
        last = conn.execute(
            select(N.c.planned_at, O.c.state)
            .outerjoin(O, O.c.id == N.c.outbox_id)
            .where(N.c.contact_id == r.contact_id, N.c.kind == r.kind)
            .where((N.c.account_id == r.account_id) | (N.c.account_id.is_(None)))
            .order_by(N.c.planned_at.desc(), N.c.id.desc())
            .limit(1)
        ).first()
        active = r.revoked_at is None and r.kind in allowed_kinds(
            scopes[r.contact_id], r.account_id
        )
        out.append(
            {
                **r._mapping,
                "label": KIND_LABELS.get(r.kind, r.kind),
                "active": active,
                "last_at": last.planned_at if last else None,
                # None once housekeeping purged the finished outbox row
                "last_state": last.state if last else None,
            }
        )
    return out


# -- unsubscribe links -----------------------------------------------------------------------


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(settings), salt=TOKEN_SALT)


def unsubscribe_token(settings: Settings, contact_id: int, kind: str) -> str:
    """A token that turns off *kind* notices for one contact, without signing in."""
    return str(_serializer(settings).dumps({"c": contact_id, "k": kind}))


def read_unsubscribe_token(settings: Settings, token: str) -> tuple[int, str] | None:
    """The (contact, kind) a token names, or None when it is forged or altered."""
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    contact_id, kind = data.get("c"), data.get("k")
    if not isinstance(contact_id, int) or kind not in KINDS:
        return None
    return contact_id, kind


def unsubscribe_url(settings: Settings, contact_id: int, kind: str) -> str:
    """The absolute unsubscribe URL (``base_url``, never a request's Host)."""
    token = unsubscribe_token(settings, contact_id, kind)
    return f"{settings.base_url.rstrip('/')}/notices/unsubscribe/{token}"


# -- what is due -----------------------------------------------------------------------------


def statement_period(today: date, statement_day: int) -> tuple[date, date] | None:
    """The month whose statement is due on *today* (from its statement day), or None."""
    if statement_day <= 0 or today.day < statement_day:
        return None
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def digest_key(today: date, digest: str) -> str | None:
    """The key of the digest due on *today*: one a day, or one a week on Mondays."""
    if digest == "daily":
        return f"digest:{today.isoformat()}"
    if digest == "weekly" and today.weekday() == 0:
        year, week, _ = today.isocalendar()
        return f"digest:{year}-W{week:02d}"
    return None


def digest_scope(conn: Connection, contact_id: int) -> Scope:
    """The contact's scope narrowed to the accounts (with sites) they want digests of."""
    scope = scope_for(conn, contact_id, None)
    wanted = {
        r.account_id
        for r in conn.execute(
            select(S.c.account_id).where(
                S.c.contact_id == contact_id, S.c.kind == "digest"
            )
        )
    }
    ids: set[int] = set()
    for account in wanted & set(scope.roles):
        ids |= scope.narrowed(account).account_ids
    return Scope(
        contact_id,
        {a: r for a, r in scope.roles.items() if a in ids},
        scope.names,
        scope.parents,
        None,
    )


def new_items(
    conn: Connection, scope: Scope, since: datetime
) -> tuple[list[int], list[int]]:
    """Invoice and document ids in *scope* that arrived after *since* and that no
    notice told the contact about yet (drafts, deleted records and their files never)."""
    told = select(NI.c.record_id).where(NI.c.contact_id == scope.contact_id)
    invoices = [
        r.id
        for r in conn.execute(
            select(I.c.id)
            .join(B, B.c.id == I.c.first_batch_id)
            .where(
                scope.where(I),
                I.c.lifecycle.not_in(HIDDEN_LIFECYCLES),
                B.c.started_at >= since,
                I.c.id.not_in(told.where(NI.c.record_kind == "invoice")),
            )
            .order_by(I.c.issue_date, I.c.id)
        )
    ]
    documents = [
        r.id
        for r in conn.execute(
            select(D.c.id)
            .where(
                scope.documents_where(),
                D.c.created_at >= since,
                D.c.id.not_in(told.where(NI.c.record_kind == "document")),
            )
            .order_by(D.c.created_at, D.c.id)
        )
    ]
    return invoices, documents


@dataclass
class Planned:
    """What one planning pass recorded."""

    statements: int = 0
    digests: int = 0


def _plan_one(
    store: Store,
    contact: dict[str, Any],
    key: str,
    values: dict[str, Any],
    items: Iterable[tuple[str, int]] = (),
) -> bool:
    """Record one notice, its items and its outbox row in one transaction; False when
    it was planned already (here or by another node)."""
    try:
        with store.write(ledger=False) as conn:
            if conn.execute(
                select(N.c.id).where(
                    N.c.contact_id == contact["id"], N.c.period_key == key
                )
            ).first():
                return False
            notice_id: int = conn.execute(
                insert(N)
                .values(contact_id=contact["id"], period_key=key,
                        recipient=contact["email"], planned_at=utcnow(), **values)
                .returning(N.c.id)
            ).scalar_one()  # fmt: skip
            for record_kind, record_id in items:
                conn.execute(
                    insert(NI).values(
                        notice_id=notice_id, contact_id=contact["id"],
                        record_kind=record_kind, record_id=record_id,
                    )
                )  # fmt: skip
            outbox_id = enqueue_notice(conn, notice_id, contact["email"])
            conn.execute(
                N.update().where(N.c.id == notice_id).values(outbox_id=outbox_id)
            )
    except IntegrityError:  # another planner recorded it first
        return False
    event("notice.planned", contact=contact["id"], key=key)
    faults.hit("notice_planned")
    return True


def plan_due(store: Store, settings: Settings, today: date | None = None) -> Planned:
    """Record every notice due on *today* (default: today, UTC) with its outbox row."""
    today = today or utcnow().date()
    with store.read() as conn:
        subs = conn.execute(
            select(S.c.contact_id, S.c.account_id, S.c.kind, S.c.since)
            .join(CONTACTS, CONTACTS.c.id == S.c.contact_id)
            .where(CONTACTS.c.revoked_at.is_(None))
            .order_by(S.c.contact_id, S.c.account_id)
        ).all()
        contacts: dict[int, dict[str, Any]] = {}
        for sub in subs:
            found = contact_by_id(conn, sub.contact_id)
            if found is not None:
                contacts[sub.contact_id] = found
        scopes = {c: scope_for(conn, c, None) for c in contacts}
    done = Planned()
    period = statement_period(today, settings.notices.statement_day)
    for sub in subs:
        if period is not None and sub.kind == "statement" and _plan_statement(
            store, contacts[sub.contact_id], scopes[sub.contact_id], sub.account_id,
            period,
        ):  # fmt: skip
            done.statements += 1
    key = digest_key(today, settings.notices.digest)
    wanted: dict[int, list[tuple[int, datetime]]] = {}
    for sub in subs:
        if sub.kind == "digest":
            wanted.setdefault(sub.contact_id, []).append((sub.account_id, sub.since))
    for contact_id, accounts in wanted.items():
        scope = scopes[contact_id]
        if key is not None and _plan_digest(
            store, contacts[contact_id], scope, accounts, key, today
        ):
            done.digests += 1
    if done.statements or done.digests:
        event("notices.planned", logging.INFO, statements=done.statements,
              digests=done.digests)  # fmt: skip
    return done


def _plan_statement(
    store: Store,
    contact: dict[str, Any],
    scope: Scope,
    account_id: int,
    period: tuple[date, date],
) -> bool:
    """Plan one account's statement of *period*; False when not allowed or planned."""
    if "statement" not in allowed_kinds(scope, account_id):
        return False  # no longer granted, or documents only: nothing
    key = f"statement:{account_id}:{period[0]:%Y-%m}"
    values = {"kind": "statement", "account_id": account_id,
              "period_start": period[0], "period_end": period[1]}  # fmt: skip
    return _plan_one(store, contact, key, values)


def _plan_digest(
    store: Store,
    contact: dict[str, Any],
    scope: Scope,
    accounts: list[tuple[int, datetime]],
    key: str,
    today: date,
) -> bool:
    """Plan a contact's digest (*accounts*: each with when it was chosen); False when
    nothing is new or it was planned already."""
    invoices: list[int] = []
    documents: list[int] = []
    with store.read() as conn:
        if conn.execute(
            select(N.c.id).where(N.c.contact_id == contact["id"], N.c.period_key == key)
        ).first():
            return False
        for account_id, since in accounts:
            if account_id not in scope.roles:
                continue  # no longer granted: nothing of it
            new_invoices, new_documents = new_items(
                conn, scope.narrowed(account_id), since
            )
            invoices += [i for i in new_invoices if i not in invoices]
            documents += [d for d in new_documents if d not in documents]
    if not invoices and not documents:
        return False  # nothing new: no digest
    items = [("invoice", i) for i in invoices] + [("document", d) for d in documents]
    values = {"kind": "digest", "period_end": today}
    return _plan_one(store, contact, key, values, items)
