"""Admin: the audit log. Every admin and customer action (``audit_event``), filtered by
account (with its sites), person (a contact or an admin, by address), record (kind and
id), action and dates; paged on screen and exported as CSV with the same filters.

The CSV is formula-safe (``sync.ledger.csv_out``): names, file names and details come from
imports and from customers, and a cell starting with ``=`` must never run in a
spreadsheet. Exporting the log is itself audited.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import abort, render_template, request
from sqlalchemy import ColumnElement, Connection, and_, func, or_, select
from werkzeug.wrappers import Response

from portal import params
from portal.admin import audit, bp
from portal.admin.queries.accounts import AccountTree
from portal.context import portal
from portal.downloads import download
from schemas.tables import (
    ACCOUNTS,
    ADMIN_USERS,
    AUDIT_EVENTS,
    CONTACTS,
    CREDIT_NOTES,
    DOCUMENTS,
    IMPORT_BATCHES,
    INVOICES,
)
from sync.ledger.accounts import with_sites
from sync.ledger.csv_out import write_csv

E = AUDIT_EVENTS
C = CONTACTS
AD = ADMIN_USERS
A = ACCOUNTS
PAGE_SIZE = 50
CSV_LIMIT = 100_000


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

    @classmethod
    def from_request(cls) -> AuditFilter:
        """Read the filters from the query string; an unreadable id, date or page
        is a 400 that says which."""
        args = request.args
        return cls(
            account=args.get("account", "").strip()[:200],
            account_id=params.id_filter(args.get("account_id"), "account id"),
            sites=args.get("sites", "1") == "1",
            person=args.get("person", "").strip()[:254],
            contact_id=params.id_filter(args.get("contact_id"), "contact id"),
            record_kind=args.get("record_kind", "").strip()[:40],
            record_id=params.id_filter(args.get("record_id"), "record id"),
            action=args.get("action", "").strip()[:60],
            start=params.day(args.get("from"), "from"),
            end=params.day(args.get("to"), "to"),
            page=params.page(args.get("page")),
        )

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


def _people(conn: Connection, rows: Sequence[Any]) -> dict[str, Who]:
    """Name every actor on the page: contacts by address, admins are named by theirs."""
    contact_ids = set()
    for r in rows:
        kind, _, ident = r.actor.partition(":")
        if kind == "contact" and ident.isdigit():
            contact_ids.add(int(ident))
    contacts = {
        r.id: r.email
        for r in conn.execute(
            select(C.c.id, C.c.email).where(C.c.id.in_(sorted(contact_ids)))
        )
    }
    names: dict[str, Who] = {}
    for r in rows:
        kind, _, ident = r.actor.partition(":")
        if kind == "contact" and ident.isdigit():
            cid = int(ident)
            names[r.actor] = Who(contacts.get(cid, f"contact {cid} (gone)"), cid)
        elif kind == "admin":
            names[r.actor] = Who(f"admin {ident}")
        else:
            names[r.actor] = Who(r.actor)
    return names


RECORD_TABLES = {
    "contact": (C, C.c.email),
    "invoice": (INVOICES, INVOICES.c.number),
    "credit_note": (CREDIT_NOTES, CREDIT_NOTES.c.number),
    "document": (DOCUMENTS, DOCUMENTS.c.file_name),
    "import_batch": (IMPORT_BATCHES, IMPORT_BATCHES.c.file_name),
    "admin": (AD, AD.c.email),
}


def _records(conn: Connection, rows: Sequence[Any]) -> dict[tuple[str, int], str]:
    """Name the records the page mentions: a contact by address, an invoice by number."""
    wanted: dict[str, set[int]] = {}
    for r in rows:
        if r.record_kind in RECORD_TABLES and r.record_id is not None:
            wanted.setdefault(r.record_kind, set()).add(r.record_id)
    names: dict[tuple[str, int], str] = {}
    for kind, ids in wanted.items():
        table, column = RECORD_TABLES[kind]
        for row in conn.execute(
            select(table.c.id, column.label("name")).where(table.c.id.in_(sorted(ids)))
        ):
            names[(kind, row.id)] = str(row.name)
    return names


def describe(detail: str) -> str:
    """An event's JSON detail as ``key: value`` text."""
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return detail
    if not isinstance(data, dict):
        return str(data)
    return "; ".join(
        f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in data.items()
    )


def _choices(conn: Connection) -> tuple[list[str], list[str]]:
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


@bp.get("/audit")
def audit_log() -> str:
    """The audit log, newest first, with filters and pages."""
    f = AuditFilter.from_request()
    with portal().store.read() as conn:
        clauses = f.where(conn)
        total = conn.execute(
            select(func.count()).select_from(E).where(*clauses)
        ).scalar_one()
        pages = max(1, -(-total // PAGE_SIZE))
        f.page = min(f.page, pages)
        rows = conn.execute(
            select(E)
            .where(*clauses)
            .order_by(E.c.at.desc(), E.c.id.desc())
            .limit(PAGE_SIZE)
            .offset((f.page - 1) * PAGE_SIZE)
        ).all()
        names = _people(conn, rows)
        records = _records(conn, rows)
        tree = AccountTree.load(conn)
        actions, kinds = _choices(conn)
    return render_template(
        "admin/audit_log.html", f=f, rows=rows, names=names, tree=tree, total=total,
        pages=pages, actions=actions, kinds=kinds, describe=describe, records=records,
    )  # fmt: skip


@bp.get("/audit.csv")
def audit_log_csv() -> Response:
    """The filtered audit log as CSV (formula-safe)."""
    f = AuditFilter.from_request()
    with portal().store.read() as conn:
        clauses = f.where(conn)
        total = conn.execute(
            select(func.count()).select_from(E).where(*clauses)
        ).scalar_one()
        if total > CSV_LIMIT:
            abort(
                400,
                description=f"That is {total:,} events; an export takes up to "
                f"{CSV_LIMIT:,}. Narrow the dates or other filters and try again.",
            )
        rows = conn.execute(
            select(E).where(*clauses).order_by(E.c.at.desc(), E.c.id.desc())
        ).all()
        names = _people(conn, rows)
        records = _records(conn, rows)
        tree = AccountTree.load(conn)
    header = ["at_utc", "person", "actor", "action", "account_key", "account", "source",
              "record_kind", "record_id", "record", "ip", "detail"]  # fmt: skip
    data = write_csv(
        header,
        (
            [
                r.at.isoformat(sep=" ", timespec="seconds"),
                names[r.actor].text,
                r.actor,
                r.action,
                tree.nodes[r.account_id].key if r.account_id in tree.nodes else "",
                tree.label(r.account_id) if r.account_id in tree.nodes else "",
                tree.nodes[r.account_id].source if r.account_id in tree.nodes else "",
                r.record_kind,
                r.record_id,
                records.get((r.record_kind, r.record_id), ""),
                r.ip,
                describe(r.detail),
            ]
            for r in rows
        ),
        text_columns=(1, 2, 3, 4, 5, 6, 7, 9, 10, 11),
    )
    audit("export_audit_csv", count=len(rows), filters=f.query_args())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return download(data, f"audit-{stamp}.csv", "text/csv")
