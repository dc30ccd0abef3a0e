"""The customer read model: every record a customer sees is read here, and only here.

Every function takes the contact's Scope and applies it together with visibility: draft
and deleted invoices and credit notes are hidden, void and deleted payments are not
listed, a document linked to a hidden record (or filed under another account than its
record's) is neither listed nor served, and an allocation is shown only when the
payment or credit on its other side is in view. Views call these and nothing else (no
SQL, no unscoped reader from ``sync.ledger``): tests/portal/test_read_model.py checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from portal.scope import Scope
from schemas.settlement import HIDDEN_LIFECYCLES, OPEN_INVOICE_STATUSES
from schemas.tables import (
    ACCOUNTS,
    ALLOCATIONS,
    CREDIT_NOTES,
    DOCUMENTS,
    IMPORT_BATCHES,
    INVOICES,
    PAYMENT_CLAIMS,
    PAYMENTS,
)
from sync.ledger import invoices
from sync.ledger.settlements import CASH_KINDS, read_records, settle
from sync.ledger.statement import Statement, build_statement

A = ACCOUNTS
I = INVOICES  # noqa: E741
C = CREDIT_NOTES
P = PAYMENTS
AL = ALLOCATIONS
D = DOCUMENTS
B = IMPORT_BATCHES
CLAIMS = PAYMENT_CLAIMS

SORTS = {
    "newest": (I.c.issue_date.desc(), I.c.id.desc()),
    "oldest": (I.c.issue_date.asc(), I.c.id.asc()),
    "due": (I.c.due_date.asc(), I.c.id.asc()),
    # Amounts are compared within a currency only: EUR 900 is not "more" than USD 800.
    "amount": (I.c.currency.asc(), I.c.total_minor.desc(), I.c.id.desc()),
    "balance": (
        I.c.currency.asc(),
        I.c.balance_minor.is_(None).asc(),
        I.c.balance_minor.desc(),
        I.c.id.desc(),
    ),
    "number": (I.c.number.asc(), I.c.id.asc()),
}
STATUS_FILTERS = ("all", "open", "overdue", "paid", "void")


@dataclass(frozen=True)
class InvoiceFilter:
    """What the invoice list was asked for (all values already validated)."""

    q: str = ""
    status: str = "all"
    start: date | None = None
    end: date | None = None
    sort: str = "newest"
    page: int = 1
    account: int | None = None  # one site or account (already checked to be in scope)


def _invoice_conditions(scope: Scope, f: InvoiceFilter, today: date) -> Sequence[Any]:
    conditions: list[Any] = [scope.where(I), I.c.lifecycle.not_in(HIDDEN_LIFECYCLES)]
    if f.q:
        pattern = (
            "%"
            + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        conditions.append(
            or_(
                I.c.number.ilike(pattern, escape="\\"),
                I.c.reference.ilike(pattern, escape="\\"),
                I.c.memo.ilike(pattern, escape="\\"),
                A.c.name.ilike(pattern, escape="\\"),
            )
        )
    if f.status == "open":
        conditions.append(I.c.status.in_(OPEN_INVOICE_STATUSES))
    elif f.status == "overdue":
        conditions.append(
            and_(I.c.status.in_(OPEN_INVOICE_STATUSES), I.c.due_date < today)
        )
    elif f.status == "paid":
        conditions.append(I.c.status == "paid")
    elif f.status == "void":
        conditions.append(I.c.status == "void")
    if f.account is not None:
        conditions.append(I.c.account_id == f.account)
    if f.start:
        conditions.append(I.c.issue_date >= f.start)
    if f.end:
        conditions.append(I.c.issue_date <= f.end)
    return conditions


def invoice_page(
    conn: Connection, scope: Scope, f: InvoiceFilter, today: date, page_size: int
) -> tuple[Sequence[Any], int]:
    """Return one page of the scope's invoices and how many match in all.

    One statement: each row carries the count of every match (a window over the
    filtered rows, taken before the page is cut). Only a page past the end, which has
    no row to carry it, asks for the count again.
    """
    conditions = _invoice_conditions(scope, f, today)
    rows = conn.execute(
        select(I, A.c.name.label("account_name"), func.count().over().label("matching"))
        .join(A, A.c.id == I.c.account_id)
        .where(*conditions)
        .order_by(*SORTS[f.sort])
        .limit(page_size)
        .offset((f.page - 1) * page_size)
    ).all()
    if rows:
        return rows, rows[0].matching
    if f.page == 1:
        return rows, 0
    total = conn.execute(
        select(func.count())
        .select_from(I.join(A, A.c.id == I.c.account_id))
        .where(*conditions)
    ).scalar_one()
    return rows, total


def all_invoices(
    conn: Connection, scope: Scope, f: InvoiceFilter, today: date
) -> Sequence[Any]:
    """Every invoice matching *f* (for the CSV export)."""
    return conn.execute(
        select(I, A.c.name.label("account_name"))
        .join(A, A.c.id == I.c.account_id)
        .where(*_invoice_conditions(scope, f, today))
        .order_by(*SORTS[f.sort])
    ).all()


def invoices_by_id(conn: Connection, scope: Scope, ids: list[int]) -> Sequence[Any]:
    """The scope's invoices among *ids* (others are silently not there)."""
    if not ids:
        return []
    return conn.execute(
        select(I.c.id, I.c.number, I.c.account_id)
        .where(scope.where(I), I.c.lifecycle.not_in(HIDDEN_LIFECYCLES), I.c.id.in_(ids))
        .order_by(I.c.number)
    ).all()


def summary(conn: Connection, scope: Scope, today: date) -> list[dict[str, Any]]:
    """Balance due, overdue and open credit per currency for the home page."""
    out: dict[str, dict[str, Any]] = {}
    open_ = I.c.status.in_(OPEN_INVOICE_STATUSES)
    overdue = and_(open_, I.c.due_date < today)
    for r in conn.execute(
        select(
            I.c.currency,
            func.sum(I.c.balance_minor).filter(open_),
            func.count().filter(open_),
            func.sum(I.c.balance_minor).filter(overdue),
            func.count().filter(overdue),
            func.count().filter(I.c.status == "unknown"),
        )
        .where(scope.where(I), I.c.lifecycle == "issued")
        .group_by(I.c.currency)
    ):
        out[r[0]] = {
            "currency": r[0],
            "due": int(r[1] or 0),
            "open_count": r[2],
            "overdue": int(r[3] or 0),
            "overdue_count": r[4],
            "unknown_count": r[5],
            "credit": 0,
        }
    for r in conn.execute(
        select(C.c.currency, func.sum(C.c.remaining_minor))
        .where(scope.where(C), C.c.lifecycle == "issued", C.c.remaining_minor > 0)
        .group_by(C.c.currency)
    ):
        slot = out.setdefault(
            r[0],
            {
                "currency": r[0],
                "due": 0,
                "open_count": 0,
                "overdue": 0,
                "overdue_count": 0,
                "unknown_count": 0,
                "credit": 0,
            },
        )
        slot["credit"] += int(r[1] or 0)
    for r in conn.execute(
        select(P.c.currency, func.sum(P.c.unapplied_minor))
        .where(scope.where(P), P.c.lifecycle == "active", P.c.unapplied_minor > 0)
        .group_by(P.c.currency)
    ):  # cash on account (an overpayment, a prepayment) is credit too
        slot = out.setdefault(
            r[0],
            {"currency": r[0], "due": 0, "open_count": 0, "overdue": 0,
             "overdue_count": 0, "unknown_count": 0, "credit": 0},
        )  # fmt: skip
        slot["credit"] += int(r[1] or 0)
    return [out[k] for k in sorted(out)]


def site_totals(conn: Connection, scope: Scope, today: date) -> list[dict[str, Any]]:
    """Balance due and overdue per account in view and currency (a parent's sites)."""
    open_ = I.c.status.in_(OPEN_INVOICE_STATUSES)
    overdue = and_(open_, I.c.due_date < today)
    rows = conn.execute(
        select(
            I.c.account_id,
            I.c.currency,
            func.coalesce(func.sum(I.c.balance_minor).filter(open_), 0),
            func.count().filter(open_),
            func.coalesce(func.sum(I.c.balance_minor).filter(overdue), 0),
        )
        .where(scope.where(I), I.c.lifecycle == "issued")
        .group_by(I.c.account_id, I.c.currency)
    ).all()
    out = [
        {
            "account_id": r[0],
            "name": scope.names.get(r[0], ""),
            "currency": r[1],
            "due": int(r[2]),
            "open_count": r[3],
            "overdue": int(r[4]),
        }
        for r in rows
    ]
    out.sort(key=lambda t: (t["name"].casefold(), t["account_id"], t["currency"]))
    return out


def payable_online(conn: Connection, scope: Scope) -> int:
    """How many open invoices in view the billing system gave a payment link."""
    return conn.execute(
        select(func.count()).where(
            scope.where(I),
            I.c.lifecycle == "issued",
            I.c.status.in_(OPEN_INVOICE_STATUSES),
            I.c.pay_url.is_not(None),
        )
    ).scalar_one()


def oldest_open_issue_date(conn: Connection, scope: Scope) -> date | None:
    """The issue date of the oldest invoice in view still open (for a statement's start)."""
    return conn.execute(
        select(func.min(I.c.issue_date)).where(
            scope.where(I),
            I.c.lifecycle == "issued",
            I.c.status.in_(OPEN_INVOICE_STATUSES),
        )
    ).scalar_one_or_none()


def recent_invoices(conn: Connection, scope: Scope, limit: int = 5) -> Sequence[Any]:
    """The newest invoices in view."""
    return conn.execute(
        select(I, A.c.name.label("account_name"))
        .join(A, A.c.id == I.c.account_id)
        .where(scope.where(I), I.c.lifecycle.not_in(HIDDEN_LIFECYCLES))
        .order_by(I.c.issue_date.desc(), I.c.id.desc())
        .limit(limit)
    ).all()


def freshness(
    conn: Connection, scope: Scope
) -> list[tuple[str, datetime | None, datetime | None]]:
    """For each source behind the accounts in view: (source, export as-of, imported at)."""
    sources = [
        r[0]
        for r in conn.execute(
            select(A.c.source).where(A.c.id.in_(sorted(scope.account_ids))).distinct()
        )
    ]
    if not sources:
        return []
    rows = conn.execute(
        select(B.c.source, func.max(B.c.as_of), func.max(B.c.finished_at))
        .where(B.c.status == "applied", B.c.source.in_(sources))
        .group_by(B.c.source)
        .order_by(B.c.source)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def freshness_from(
    scope: Scope, by_account: Mapping[int, tuple[str, datetime | None, datetime | None]]
) -> list[tuple[str, datetime | None, datetime | None]]:
    """``freshness`` from what the request's visit already read (``sync.access.visits``):
    each visible account's (source, export as-of, imported at)."""
    found = {
        by_account[a][0]: by_account[a] for a in scope.account_ids if a in by_account
    }
    return [found[source] for source in sorted(found)]


def invoice_in_scope(conn: Connection, scope: Scope, invoice_id: int) -> Any | None:
    """The invoice if the contact may see it, else None (the caller answers 404)."""
    return conn.execute(
        select(I.c.id, I.c.account_id, I.c.number).where(
            I.c.id == invoice_id,
            scope.where(I),
            I.c.lifecycle.not_in(HIDDEN_LIFECYCLES),
        )
    ).first()


def credit_note_in_scope(
    conn: Connection, scope: Scope, credit_note_id: int
) -> Any | None:
    """The credit note if the contact may see it, else None."""
    return conn.execute(
        select(C.c.id, C.c.account_id, C.c.number).where(
            C.c.id == credit_note_id,
            scope.where(C),
            C.c.lifecycle.not_in(HIDDEN_LIFECYCLES),
        )
    ).first()


def credit_notes(conn: Connection, scope: Scope) -> Sequence[Any]:
    """The scope's credit notes, newest first."""
    return conn.execute(
        select(C, A.c.name.label("account_name"))
        .join(A, A.c.id == C.c.account_id)
        .where(scope.where(C), C.c.lifecycle.not_in(HIDDEN_LIFECYCLES))
        .order_by(C.c.issue_date.desc(), C.c.id.desc())
    ).all()


def payments(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """The scope's payments with the invoices each was applied to."""
    rows = conn.execute(
        select(P, A.c.name.label("account_name"))
        .join(A, A.c.id == P.c.account_id)
        .where(scope.where(P), P.c.lifecycle == "active", P.c.amount_minor > 0)
        .order_by(P.c.received_on.desc(), P.c.id.desc())
    ).all()
    ids = [r.id for r in rows]
    applied: dict[int, list[Any]] = {}
    if ids:
        for a in conn.execute(
            select(AL.c.payment_id, AL.c.amount_minor, AL.c.invoice_id, I.c.number)
            .join(I, I.c.id == AL.c.invoice_id)
            .where(AL.c.payment_id.in_(ids), AL.c.kind == "cash")
            .where(scope.where(I), I.c.lifecycle.not_in(HIDDEN_LIFECYCLES))
            .order_by(AL.c.id)
        ):
            applied.setdefault(a.payment_id, []).append(a)
    return [{"payment": r, "applied": applied.get(r.id, [])} for r in rows]


def payment_detail(
    conn: Connection, scope: Scope, payment_id: int
) -> dict[str, Any] | None:
    """One payment in view (a receipt): what it paid and what is left on account."""
    row = conn.execute(
        select(P, A.c.name.label("account_name"))
        .join(A, A.c.id == P.c.account_id)
        .where(
            P.c.id == payment_id,
            scope.where(P),
            P.c.lifecycle == "active",
            P.c.amount_minor > 0,
        )
    ).first()
    if row is None:
        return None
    applied = conn.execute(
        select(
            AL.c.amount_minor,
            AL.c.invoice_id,
            I.c.number,
            I.c.issue_date,
            A.c.name.label("account_name"),
        )
        .join(I, I.c.id == AL.c.invoice_id)
        .join(A, A.c.id == I.c.account_id)
        .where(AL.c.payment_id == payment_id, AL.c.kind == "cash")
        .where(scope.where(I), I.c.lifecycle.not_in(HIDDEN_LIFECYCLES))
        .order_by(AL.c.id)
    ).all()
    return {"payment": row, "applied": applied}


# -- cash without a payment record (kept apart from ``payments``: records) ------------

CASH_LABELS = {
    "reported_payment": "Reported paid by the billing system on invoice {number}",
    "reported_settlement": "Reported paid or credited by the billing system on invoice {number}",
    "paid_mark": "Recorded by our office for invoice {number}",
    "refund": "Refunded to you",
}


def reported_payments(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Cash the scope's statements show without a payment record, newest first.

    The same lines as the statements (``sync.ledger.settlements``): what an export reports
    paid on an invoice but carries no payment record for, dated when first reported,
    and what the office recorded paid (a customer's confirmed "I've paid" included)
    beyond what the exports show; and money paid back to the customer (a refund of a
    credit note or of an overpayment: a negative amount). Issued invoices of billing
    accounts only.
    """
    ids = sorted(scope.billing_ids)
    if not ids:
        return []
    records = read_records(conn, ids)
    settled = settle(conn, records, ids, {i: scope.names[i] for i in ids})
    rows = [
        {
            "on": line.on,
            "account_name": scope.names[account_id],
            "currency": currency,
            "amount_minor": -line.amount,
            "kind": line.kind,
            "label": CASH_LABELS[line.kind].format(number=line.reference),
            "number": line.reference,
            "invoice_id": line.invoice_id,
            "date_known": line.date_known,
            "description": line.description,
        }
        for (account_id, currency), lines in settled.lines.items()
        for line in lines
        if (line.kind in CASH_KINDS and line.amount < 0) or line.kind == "refund"
    ]
    rows.sort(key=lambda r: (r["on"], r["number"]), reverse=True)
    return rows


def _document_conditions(scope: Scope) -> Any:
    """The documents in view (``Scope.documents_where``: the notices use it too)."""
    return scope.documents_where()


def documents(
    conn: Connection, scope: Scope, limit: int | None = None
) -> Sequence[Any]:
    """Files in view: account documents, and invoice copies for billing contacts."""
    stmt = (
        select(D, I.c.number.label("invoice_number"))
        .outerjoin(I, I.c.id == D.c.invoice_id)
        .where(_document_conditions(scope))
        .order_by(D.c.created_at.desc(), D.c.id.desc())
    )
    if limit:
        stmt = stmt.limit(limit)
    return conn.execute(stmt).all()


def document_in_scope(conn: Connection, scope: Scope, document_id: int) -> Any | None:
    """The document if the contact may download it, else None."""
    return conn.execute(
        select(D).where(D.c.id == document_id, _document_conditions(scope))
    ).first()


def invoice_detail(
    conn: Connection, scope: Scope, invoice_id: int
) -> dict[str, Any] | None:
    """Everything the invoice page and its PDF show, or None when not in view: lines,
    payments and credits from accounts in view, its documents, and the contact's own
    pending "I've paid" claims."""
    if invoice_in_scope(conn, scope, invoice_id) is None:
        return None
    detail = invoices.invoice_detail(conn, invoice_id, visible=scope.billing_ids)
    if detail is None:
        return None
    detail["documents"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(D)
            .where(D.c.invoice_id == invoice_id, _document_conditions(scope))
            .order_by(D.c.id)
        )
    ]
    detail["claims"] = conn.execute(
        select(CLAIMS).where(
            CLAIMS.c.invoice_id == invoice_id,
            CLAIMS.c.contact_id == scope.contact_id,
            CLAIMS.c.state == "pending",
        )
    ).all()
    return detail


def credit_note_detail(
    conn: Connection, scope: Scope, credit_note_id: int
) -> dict[str, Any] | None:
    """A credit note with its lines and the invoices in view it was applied to."""
    if credit_note_in_scope(conn, scope, credit_note_id) is None:
        return None
    return invoices.credit_note_detail(conn, credit_note_id, visible=scope.billing_ids)


def statement(
    conn: Connection, scope: Scope, account_id: int, start: date, end: date
) -> Statement | None:
    """The statement of *account_id* with its sites in view, or None when not in view."""
    if not scope.owns(account_id):
        return None
    return build_statement(conn, account_id, start, end, visible=scope.billing_ids)
