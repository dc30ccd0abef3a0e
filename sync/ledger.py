"""Ledger reads: balances per account and currency, invoice lists, account lookup.

Figures are never summed across currencies. A figure some record cannot tell (an
invoice list report has no payments; an IIF file has no balances) makes the total
unknown (``None``), never zero.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, case, func, or_, select

from adapters.columns import nfc_key
from schemas.money import to_text
from schemas.status import is_overdue
from schemas.tables import (
    Account,
    Allocation,
    CreditNote,
    CreditNoteLine,
    Document,
    Invoice,
    InvoiceLine,
    Payment,
)
from sync.allocations import LIVE_ALLOCATION, live_allocations, within
from sync.errors import UsageError

A = Account.__table__  # type: ignore[attr-defined]
I = Invoice.__table__  # type: ignore[attr-defined]  # noqa: E741
C = CreditNote.__table__  # type: ignore[attr-defined]
P = Payment.__table__  # type: ignore[attr-defined]
AL = Allocation.__table__  # type: ignore[attr-defined]
D = Document.__table__  # type: ignore[attr-defined]
IL = InvoiceLine.__table__  # type: ignore[attr-defined]
CL = CreditNoteLine.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AccountRef:
    """An account as a person names it."""

    id: int
    source: str
    key: str
    name: str
    parent_id: int | None


def find_accounts(
    conn: Connection, key: str, source: str | None = None
) -> list[AccountRef]:
    """Return the accounts whose key or name is *key* (optionally in one source).

    *key* is compared in Unicode NFC, the form imports store keys and names in, so a
    name typed or pasted decomposed ("A" + combining macron) finds "Ā".
    """
    key = nfc_key(key)
    stmt = select(A.c.id, A.c.source, A.c.external_key, A.c.name, A.c.parent_id).where(
        or_(A.c.external_key == key, A.c.name == key)
    )
    if source:
        stmt = stmt.where(A.c.source == source)
    return [AccountRef(*row) for row in conn.execute(stmt.order_by(A.c.id))]


def resolve_account(
    conn: Connection, key: str, source: str | None = None
) -> AccountRef:
    """Return the one account named *key*, or raise UsageError saying what matched."""
    found = find_accounts(conn, key, source)
    if not found:
        raise UsageError(
            f"no account has the key or name {key!r}; `billfold balances` lists them"
        )
    if len(found) > 1:
        sources = ", ".join(sorted({a.source for a in found}))
        raise UsageError(
            f"{key!r} names {len(found)} accounts (sources: {sources}); add --source"
        )
    return found[0]


def with_sites(conn: Connection, account_ids: Iterable[int]) -> list[int]:
    """Return *account_ids* plus every site (child, grandchild…) under them."""
    result = list(dict.fromkeys(account_ids))
    frontier = list(result)
    while frontier:
        children = [
            row[0]
            for row in conn.execute(select(A.c.id).where(A.c.parent_id.in_(frontier)))
            if row[0] not in result
        ]
        result.extend(children)
        frontier = children
    return result


def _known_sum(count_unknown: Any, total: Any) -> int | None:
    return None if (count_unknown or 0) > 0 else int(total or 0)


def _account_figures(
    conn: Connection, account_ids: list[int] | None
) -> list[tuple[int, str, dict[str, Any], bool, bool]]:
    """Sum each account's records per currency: ``(account_id, currency, sums,
    records_payments, records_credit_notes)``."""
    issued = I.c.lifecycle == "issued"

    def scoped(stmt, table):  # type: ignore[no-untyped-def]
        return (
            stmt
            if account_ids is None
            else stmt.where(table.c.account_id.in_(account_ids))
        )

    def scoped_accounts(stmt):  # type: ignore[no-untyped-def]
        return stmt if account_ids is None else stmt.where(A.c.id.in_(account_ids))

    rows: dict[tuple[int, str], dict[str, Any]] = {}

    def slot(account_id: int, currency: str) -> dict[str, Any]:
        return rows.setdefault(
            (account_id, currency),
            {
                "invoice_count": 0, "void_invoice_count": 0, "billed": 0,
                "balance": 0, "invoice_paid": 0, "marked_excess": 0,
                "credit_note_count": 0, "credit_note_total": 0, "remaining": 0,
                "payment_count": 0, "payments": 0, "unapplied": 0,
            },
        )  # fmt: skip

    one = case((issued, 1), else_=0)
    stmt = select(
        I.c.account_id,
        I.c.currency,
        func.sum(one),
        func.sum(case((I.c.lifecycle == "void", 1), else_=0)),
        func.sum(case((issued, I.c.total_minor), else_=0)),
        func.sum(case((issued & I.c.balance_minor.is_(None), 1), else_=0)),
        func.sum(case((issued, I.c.balance_minor), else_=0)),
        func.sum(case((issued & I.c.paid_minor.is_(None), 1), else_=0)),
        func.sum(case((issued, I.c.paid_minor), else_=0)),
        func.sum(case((issued, I.c.marked_excess_minor), else_=0)),
    ).group_by(I.c.account_id, I.c.currency)
    for r in conn.execute(scoped(stmt, I)):
        s = slot(r[0], r[1])
        s["invoice_count"], s["void_invoice_count"] = int(r[2] or 0), int(r[3] or 0)
        s["billed"] = int(r[4] or 0)
        s["balance"] = _known_sum(r[5], r[6])
        s["invoice_paid"] = _known_sum(r[7], r[8])
        s["marked_excess"] = int(r[9] or 0)

    cn_issued = C.c.lifecycle == "issued"
    stmt = select(
        C.c.account_id,
        C.c.currency,
        func.sum(case((cn_issued, 1), else_=0)),
        func.sum(case((cn_issued, C.c.total_minor), else_=0)),
        func.sum(case((cn_issued & C.c.remaining_minor.is_(None), 1), else_=0)),
        func.sum(case((cn_issued, C.c.remaining_minor), else_=0)),
    ).group_by(C.c.account_id, C.c.currency)
    for r in conn.execute(scoped(stmt, C)):
        s = slot(r[0], r[1])
        s["credit_note_count"], s["credit_note_total"] = int(r[2] or 0), int(r[3] or 0)
        s["remaining"] = _known_sum(r[4], r[5])

    active = P.c.lifecycle == "active"
    stmt = select(
        P.c.account_id,
        P.c.currency,
        func.sum(case((active, 1), else_=0)),
        func.sum(case((active, P.c.amount_minor), else_=0)),
        func.sum(case((active & P.c.unapplied_minor.is_(None), 1), else_=0)),
        func.sum(case((active, P.c.unapplied_minor), else_=0)),
    ).group_by(P.c.account_id, P.c.currency)
    for r in conn.execute(scoped(stmt, P)):
        s = slot(r[0], r[1])
        s["payment_count"], s["payments"] = int(r[2] or 0), int(r[3] or 0)
        s["unapplied"] = _known_sum(r[4], r[5])

    sources = {
        row[0]: row[1]
        for row in conn.execute(scoped_accounts(select(A.c.id, A.c.source)))
    }

    # A source whose exports carry payment records (IIF, API feeds) recorded no cash
    # for an account that has none: that account received nothing, not an unknown sum.
    # (One indexed probe per source: a DISTINCT over every payment would scan them all.)
    def carrying(table: Any) -> set[str]:
        return {
            name
            for name in set(sources.values())
            if conn.execute(
                select(table.c.id).where(table.c.source == name).limit(1)
            ).first()
        }

    paying_sources, crediting_sources = carrying(P), carrying(C)
    return [
        (
            account_id,
            currency,
            s,
            sources[account_id] in paying_sources,
            sources[account_id] in crediting_sources,
        )
        for (account_id, currency), s in rows.items()
    ]


def balances(
    conn: Connection, account_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """Return one balance object per account and currency (``billfold balances``)."""
    figures = _account_figures(conn, account_ids)
    names = {
        row[0]: row[1:]
        for row in conn.execute(
            select(A.c.id, A.c.name, A.c.external_key, A.c.parent_id)
        )
    }
    out = []
    for account_id, currency, s, records_payments, records_credit_notes in figures:
        name, key, parent_id = names[account_id]
        parent = names[parent_id][0] if parent_id else None
        out.append(
            _balance_object(
                name,
                key,
                parent,
                currency,
                s,
                records_payments=records_payments,
                records_credit_notes=records_credit_notes,
            )
        )
    out.sort(key=lambda o: (o["account"].casefold(), o["account_key"], o["currency"]))
    return out


def net_bases(conn: Connection, account_ids: list[int]) -> dict[tuple[int, str], str]:
    """How ``billfold balances`` works out each net balance, per account and currency.

    ``"balances"``: what is due less remaining credit and unapplied cash, every figure
    known; ``"payments"``: billed less payment records (and paid marks) less credit
    notes; ``"invoices"``: billed less each invoice's reported paid amount less credit
    notes; ``"unknown"``: the net is null. A statement shows what each basis counts, so
    its closing balance is the same net (``sync.settlements``).
    """
    return {
        (account_id, currency): _net(s, records_payments, records_credit_notes)[1]
        for account_id, currency, s, records_payments, records_credit_notes in (
            _account_figures(conn, account_ids)
        )
    }


def _net(
    s: dict[str, Any], records_payments: bool, records_credit_notes: bool
) -> tuple[int | None, str, int | None]:
    """Return (net balance, its basis, cash paid) from one account's sums."""
    unknown = s["invoice_paid"] is None and s["balance"] is None
    from_payments = bool(s["payment_count"] or (records_payments and unknown))
    if from_payments:
        paid: int | None = s["payments"] + s["marked_excess"]
    else:
        paid = s["invoice_paid"]
    # A source whose exports never carry credit notes (or payments) cannot say there
    # are none: those figures are unknown, not zero. They are left out of the net
    # (what the export says is due) rather than making it unknown.
    known_remaining = (
        0 if _remaining_silent(s, records_credit_notes) else s["remaining"]
    )
    known_unapplied = 0 if _unapplied_silent(s, records_payments) else s["unapplied"]
    if None not in (s["balance"], known_remaining, known_unapplied):
        return s["balance"] - known_remaining - known_unapplied, "balances", paid
    if paid is not None:
        net = s["billed"] - paid - s["credit_note_total"]
        return net, "payments" if from_payments else "invoices", paid
    return None, "unknown", paid


def _remaining_silent(s: dict[str, Any], records_credit_notes: bool) -> bool:
    return not records_credit_notes and not s["credit_note_count"]


def _unapplied_silent(s: dict[str, Any], records_payments: bool) -> bool:
    return not records_payments and not s["payment_count"]


def _balance_object(
    name: str,
    key: str,
    parent: str | None,
    currency: str,
    s: dict[str, Any],
    *,
    records_payments: bool = False,
    records_credit_notes: bool = True,
) -> dict[str, Any]:
    net, _, paid = _net(s, records_payments, records_credit_notes)
    remaining, unapplied = s["remaining"], s["unapplied"]
    cn_count: int | None = s["credit_note_count"]
    cn_total: int | None = s["credit_note_total"]
    if _remaining_silent(s, records_credit_notes):
        # An export that never carries credit notes cannot say there are none.
        remaining = cn_count = cn_total = None
    if _unapplied_silent(s, records_payments):
        unapplied = None

    def money(v: int | None) -> str | None:
        return to_text(v, currency)

    return {
        "account": name,
        "account_key": key,
        "parent": parent,
        "currency": currency,
        "invoice_count": s["invoice_count"],
        "void_invoice_count": s["void_invoice_count"],
        "total_billed": money(s["billed"]),
        "total_paid": money(paid),
        "balance_due": money(s["balance"]),
        "credit_note_count": cn_count,
        "credit_note_total": money(cn_total),
        "remaining_credit": money(remaining),
        "unapplied_payments": money(unapplied),
        "net_balance": money(net),
    }


def invoice_list(
    conn: Connection, account_ids: list[int], today: date
) -> list[dict[str, Any]]:
    """Return the invoices of the given accounts, newest first (``billfold invoices``)."""
    stmt = (
        select(
            I.c.id, I.c.number, A.c.name, A.c.external_key, I.c.issue_date, I.c.due_date,
            I.c.currency, I.c.total_minor, I.c.paid_minor, I.c.credited_minor,
            I.c.balance_minor, I.c.status, I.c.reference, I.c.source,
        )
        .join(A, A.c.id == I.c.account_id)
        .where(I.c.account_id.in_(account_ids), I.c.lifecycle.not_in(("draft", "deleted")))
        .order_by(I.c.issue_date.desc(), I.c.number.desc())
    )  # fmt: skip
    out = []
    for r in conn.execute(stmt):
        cur = r.currency
        out.append(
            {
                "number": r.number,
                "account": r.name,
                "account_key": r.external_key,
                "source": r.source,
                "issue_date": r.issue_date.isoformat() if r.issue_date else None,
                "due_date": r.due_date.isoformat() if r.due_date else None,
                "currency": cur,
                "total": to_text(r.total_minor, cur),
                "paid": to_text(r.paid_minor, cur),
                "credited": to_text(r.credited_minor, cur),
                "balance_due": to_text(r.balance_minor, cur),
                "status": r.status,
                "overdue": is_overdue(r.status, r.due_date, today),
                "reference": r.reference,
            }
        )
    return out


def invoice_detail(
    conn: Connection, invoice_id: int, visible: Collection[int] | None = None
) -> dict[str, Any] | None:
    """Return everything an invoice copy shows: header, lines, what was applied to it.

    *visible* (a customer's accounts) leaves out payments and credits from any other
    account, and documents filed under one.
    """
    parent = A.alias("parent")
    row = conn.execute(
        select(I, A.c.name.label("account_name"), A.c.external_key.label("account_key"),
               A.c.email.label("account_email"), parent.c.name.label("parent_name"))
        .join(A, A.c.id == I.c.account_id)
        .outerjoin(parent, parent.c.id == A.c.parent_id)
        .where(I.c.id == invoice_id)
    ).mappings().first()  # fmt: skip
    if row is None:
        return None
    lines = (
        conn.execute(
            select(IL)
            .where(IL.c.invoice_id == invoice_id)
            .order_by(IL.c.position, IL.c.id)
        )
        .mappings()
        .all()
    )
    applied = conn.execute(
        select(
            AL.c.kind, AL.c.amount_minor, AL.c.applied_on,
            P.c.reference.label("payment_reference"), P.c.method.label("payment_method"),
            P.c.received_on, C.c.number.label("credit_note_number"),
        )
        .select_from(live_allocations())
        .outerjoin(P, P.c.id == AL.c.payment_id)
        .outerjoin(C, C.c.id == AL.c.credit_note_id)
        .where(LIVE_ALLOCATION, AL.c.invoice_id == invoice_id,
               *([] if visible is None else [within(visible)]))
        .order_by(AL.c.applied_on, AL.c.id)
    ).mappings().all()  # fmt: skip
    documents = (
        conn.execute(
            select(
                D.c.id,
                D.c.kind,
                D.c.file_name,
                D.c.content_type,
                D.c.size,
                D.c.storage_key,
            ).where(
                D.c.invoice_id == invoice_id,
                *([] if visible is None else [D.c.account_id.in_(sorted(visible))]),
            )
        )
        .mappings()
        .all()
    )
    return {
        "invoice": dict(row),
        "lines": [dict(r) for r in lines],
        "applied": [dict(r) for r in applied],
        "documents": [dict(r) for r in documents],
    }


def credit_note_detail(
    conn: Connection, credit_note_id: int, visible: Collection[int] | None = None
) -> dict[str, Any] | None:
    """Return a credit note with its lines and the invoices it was applied to.

    *visible* (a customer's accounts) leaves out invoices of any other account and
    invoices hidden from customers (draft, deleted).
    """
    row = (
        conn.execute(
            select(
                C, A.c.name.label("account_name"), A.c.external_key.label("account_key")
            )
            .join(A, A.c.id == C.c.account_id)
            .where(C.c.id == credit_note_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    lines = (
        conn.execute(
            select(CL)
            .where(CL.c.credit_note_id == credit_note_id)
            .order_by(CL.c.position, CL.c.id)
        )
        .mappings()
        .all()
    )
    applied = (
        conn.execute(
            select(
                AL.c.amount_minor,
                AL.c.applied_on,
                AL.c.invoice_id,
                I.c.number.label("invoice_number"),
            )
            .select_from(live_allocations())
            .outerjoin(I, I.c.id == AL.c.invoice_id)
            .where(
                LIVE_ALLOCATION,
                AL.c.credit_note_id == credit_note_id,
                AL.c.kind == "credit",
                *(
                    []
                    if visible is None
                    else [
                        within(visible),
                        AL.c.invoice_id.is_(None)
                        | (
                            I.c.account_id.in_(sorted(visible))
                            & I.c.lifecycle.not_in(("draft", "deleted"))
                        ),
                    ]
                ),
            )
            .order_by(AL.c.applied_on, AL.c.id)
        )
        .mappings()
        .all()
    )
    return {
        "credit_note": dict(row),
        "lines": [dict(r) for r in lines],
        "applied": [dict(r) for r in applied],
    }
