"""The audit log as the admin filters it: by account (with its sites), person (a
contact or an admin, by address), record, action and dates; who each actor is and
what each record it mentions is called (``mentions``: one query per kind a page)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from schemas.tables import (
    ACCOUNTS,
    ADMIN_USERS,
    AUDIT_EVENTS,
    CONTACTS,
    CREDIT_NOTES,
    DOCUMENTS,
    IMPORT_BATCHES,
    INVOICES,
    PAYMENTS,
)
from sync.ledger.accounts import with_sites

E = AUDIT_EVENTS
C = CONTACTS
AD = ADMIN_USERS
A = ACCOUNTS


@dataclass
class AuditFilter:
    """What the person asked to see (from the query string)."""

    account: str = ""
    account_id: int | None = None
    sites: bool = True
    person: str = ""
    contact_id: int | None = None
    record_kind: str = ""
    record_id: int | None = None
    action: str = ""
    start: date | None = None
    end: date | None = None
    page: int = 1
    problems: list[str] = field(default_factory=list)

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query-string arguments (for links to other pages and CSV)."""
        args = {
            "account": self.account or None,
            "account_id": self.account_id,
            "sites": None if self.sites else "0",
            "person": self.person or None,
            "contact_id": self.contact_id,
            "record_kind": self.record_kind or None,
            "record_id": self.record_id,
            "action": self.action or None,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }
        args.update(changes)
        return {k: v for k, v in args.items() if v is not None}

    def where(self, conn: Connection) -> list[ColumnElement[bool]]:
        """The SQL conditions; a filter naming nothing known matches no event."""
        nothing = E.c.id.is_(None)
        clauses: list[ColumnElement[bool]] = []
        accounts: list[int] = []
        if self.account_id is not None:
            accounts.append(self.account_id)
        if self.account:
            needle = self.account.casefold()
            found = [
                r.id
                for r in conn.execute(
                    select(A.c.id).where(
                        or_(
                            func.lower(A.c.name) == needle,
                            func.lower(A.c.external_key) == needle,
                        )
                    )
                )
            ]
            if not found:
                self.problems.append(
                    f"No account has the key or name {self.account!r}."
                )
                clauses.append(nothing)
            accounts.extend(found)
        if accounts:
            ids = with_sites(conn, accounts) if self.sites else accounts
            clauses.append(E.c.account_id.in_(ids))
        people: list[ColumnElement[bool]] = []
        contact_ids: list[int] = []
        if self.contact_id is not None:
            contact_ids.append(self.contact_id)
        if self.person:
            needle = self.person.casefold()
            contact_ids.extend(
                r.id for r in conn.execute(select(C.c.id).where(C.c.email == needle))
            )
            for r in conn.execute(
                select(AD.c.id, AD.c.email).where(AD.c.email == needle)
            ):
                people.append(E.c.actor == f"admin:{r.email}")
            if not contact_ids and not people:
                self.problems.append(
                    f"No contact or admin has the address {self.person!r}."
                )
        for contact_id in contact_ids:
            people.append(E.c.actor == f"contact:{contact_id}")
            people.append(
                and_(E.c.record_kind == "contact", E.c.record_id == contact_id)
            )
        if self.person or self.contact_id is not None:
            clauses.append(or_(*people) if people else nothing)
        if self.record_kind:
            clauses.append(E.c.record_kind == self.record_kind)
        if self.record_id is not None:
            clauses.append(E.c.record_id == self.record_id)
        if self.action:
            clauses.append(E.c.action == self.action)
        if self.start:
            clauses.append(E.c.at >= datetime.combine(self.start, datetime.min.time()))
        if self.end and self.end < date.max:
            after = datetime.combine(self.end + timedelta(days=1), datetime.min.time())
            clauses.append(E.c.at < after)
        return clauses


@dataclass(frozen=True)
class Who:
    """How an audit event's actor reads on screen and in the CSV."""

    text: str
    contact_id: int | None = None


def people(rows: Sequence[Any], found: Mentions) -> dict[str, Who]:
    """Name every actor on the page: contacts and admins by address."""
    names: dict[str, Who] = {}
    for r in rows:
        kind, _, ident = r.actor.partition(":")
        if kind == "contact" and ident.isdigit():
            cid = int(ident)
            gone = "a contact since deleted"
            names[r.actor] = Who(found.contacts.get(cid, gone), cid)
        elif kind == "admin":
            names[r.actor] = Who(f"admin {ident}")
        elif kind == "source":
            names[r.actor] = Who(f"import from {ident}")
        elif r.actor == "cli":
            names[r.actor] = Who("the command line")
        else:
            names[r.actor] = Who(r.actor)
    return names


@dataclass
class Mentions:
    """What the records an audit page mentions are called: read once per page (one
    query per kind of record), never once per row."""

    contacts: dict[int, str] = field(default_factory=dict)  # id -> email
    admins: dict[int, str] = field(default_factory=dict)  # id -> email
    invoices: dict[int, Any] = field(default_factory=dict)  # id -> number, currency
    credit_notes: dict[int, Any] = field(default_factory=dict)
    payments: dict[int, Any] = field(default_factory=dict)  # amount, date, currency
    documents: dict[int, str] = field(default_factory=dict)  # id -> file name
    batches: dict[int, Any] = field(default_factory=dict)  # file name, started

    def record_name(self, kind: str | None, record_id: int | None) -> str:
        """The record's own name (an address, a number, a file name), or ""."""
        if record_id is None:
            return ""
        found: Any = {
            "contact": self.contacts,
            "admin": self.admins,
            "document": self.documents,
        }.get(kind or "", {}).get(record_id)
        if found is not None:
            return str(found)
        row = {
            "invoice": self.invoices,
            "credit_note": self.credit_notes,
            "import_batch": self.batches,
        }.get(kind or "", {}).get(record_id)
        if row is None:
            return ""
        return str(row.file_name if kind == "import_batch" else row.number)


def _ids(value: Any) -> set[int]:
    """The record ids an event's detail holds under one key (an id or a list)."""
    values = value if isinstance(value, list) else [value]
    return {v for v in values if isinstance(v, int) and not isinstance(v, bool)}


def mentions(
    conn: Connection, rows: Sequence[Any], contacts: Sequence[int] = ()
) -> Mentions:
    """Name every record the page's events mention, as record or in their details (and
    the *contacts* the page names besides, such as a filter's)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    wanted["contact"].update(contacts)
    for r in rows:
        if r.record_kind and r.record_id is not None:
            wanted[r.record_kind].add(r.record_id)
        detail = detail_of(r)
        for key, kind in DETAIL_RECORDS.items():
            wanted[kind] |= _ids(detail.get(key))
        kind, _, ident = r.actor.partition(":")
        if kind == "contact" and ident.isdigit():
            wanted["contact"].add(int(ident))
    found = Mentions()

    def read(kind: str, table: Any, *columns: Any) -> list[Any]:
        ids = sorted(wanted.get(kind, ()))
        if not ids:
            return []
        return list(
            conn.execute(select(table.c.id, *columns).where(table.c.id.in_(ids)))
        )

    found.contacts = {r.id: r.email for r in read("contact", C, C.c.email)}
    found.admins = {r.id: r.email for r in read("admin", AD, AD.c.email)}
    found.documents = {
        r.id: r.file_name for r in read("document", DOCUMENTS, DOCUMENTS.c.file_name)
    }
    found.invoices = {
        r.id: r
        for r in read("invoice", INVOICES, INVOICES.c.number, INVOICES.c.currency)
    }
    found.credit_notes = {
        r.id: r
        for r in read(
            "credit_note", CREDIT_NOTES, CREDIT_NOTES.c.number, CREDIT_NOTES.c.currency
        )
    }
    found.payments = {
        r.id: r
        for r in read(
            "payment", PAYMENTS, PAYMENTS.c.amount_minor, PAYMENTS.c.currency,
            PAYMENTS.c.received_on,
        )
    }  # fmt: skip
    found.batches = {
        r.id: r
        for r in read(
            "import_batch", IMPORT_BATCHES, IMPORT_BATCHES.c.file_name,
            IMPORT_BATCHES.c.started_at,
        )
    }  # fmt: skip
    return found


# Detail keys that hold the id of another record, and that record's kind.
DETAIL_RECORDS = {
    "invoice_id": "invoice",
    "credit_note_id": "credit_note",
    "invoices": "invoice",
    "contact": "contact",
    "applied": "import_batch",
}


def detail_of(row: Any) -> dict[str, Any]:
    """An event's detail as a dict (an unreadable one is kept as ``{"text": ...}``)."""
    try:
        data = json.loads(row.detail or "{}")
    except ValueError:
        return {"text": row.detail}
    return data if isinstance(data, dict) else {"text": data}


def choices(conn: Connection) -> tuple[list[str], list[str]]:
    """Every action and record kind the log holds, for the filter menus."""
    actions = [
        r[0] for r in conn.execute(select(E.c.action).distinct().order_by(E.c.action))
    ]
    kinds = [
        r[0]
        for r in conn.execute(
            select(E.c.record_kind)
            .where(E.c.record_kind.is_not(None))
            .distinct()
            .order_by(E.c.record_kind)
        )
    ]
    return actions, kinds


def event_count(conn: Connection, clauses: list[ColumnElement[bool]]) -> int:
    """How many events match *clauses*."""
    return conn.execute(
        select(func.count()).select_from(E).where(*clauses)
    ).scalar_one()


def events(
    conn: Connection,
    clauses: list[ColumnElement[bool]],
    page: int | None = None,
    size: int = 50,
) -> Sequence[Any]:
    """The events matching *clauses*, newest first: page *page* of *size*, or all."""
    stmt = select(E).where(*clauses).order_by(E.c.at.desc(), E.c.id.desc())
    if page is not None:
        stmt = stmt.limit(size).offset((page - 1) * size)
    return conn.execute(stmt).all()
