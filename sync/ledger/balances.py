"""Balances: what each account owes and holds, per currency (``billfold balances``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, func, select

from schemas.money import to_text
from schemas.tables import (
    ACCOUNTS,
    CREDIT_NOTES,
    INVOICES,
    PAYMENTS,
)

A = ACCOUNTS
I = INVOICES  # noqa: E741
C = CREDIT_NOTES
P = PAYMENTS


def _known_sum(count_unknown: Any, total: Any) -> int | None:
    return None if (count_unknown or 0) > 0 else int(total or 0)


def _account_figures(
    conn: Connection, account_ids: list[int] | None
) -> list[tuple[int, str, dict[str, Any], bool, bool]]:
    """Sum each account's records per currency: ``(account_id, currency, sums,
    records_payments, records_credit_notes)``."""
    issued = I.c.lifecycle == "issued"

    def scoped(stmt, table):
        return (
            stmt
            if account_ids is None
            else stmt.where(table.c.account_id.in_(account_ids))
        )

    def scoped_accounts(stmt):
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
                "credit_refunded": 0, "payment_refunded": 0,
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
        func.sum(case((cn_issued, C.c.refunded_minor), else_=0)),
    ).group_by(C.c.account_id, C.c.currency)
    for r in conn.execute(scoped(stmt, C)):
        s = slot(r[0], r[1])
        s["credit_note_count"], s["credit_note_total"] = int(r[2] or 0), int(r[3] or 0)
        s["remaining"] = _known_sum(r[4], r[5])
        s["credit_refunded"] = int(r[6] or 0)

    active = P.c.lifecycle == "active"
    stmt = select(
        P.c.account_id,
        P.c.currency,
        func.sum(case((active, 1), else_=0)),
        func.sum(case((active, P.c.amount_minor), else_=0)),
        func.sum(case((active & P.c.unapplied_minor.is_(None), 1), else_=0)),
        func.sum(case((active, P.c.unapplied_minor), else_=0)),
        func.sum(case((active, P.c.refunded_minor), else_=0)),
    ).group_by(P.c.account_id, P.c.currency)
    for r in conn.execute(scoped(stmt, P)):
        s = slot(r[0], r[1])
        s["payment_count"], s["payments"] = int(r[2] or 0), int(r[3] or 0)
        s["unapplied"] = _known_sum(r[4], r[5])
        s["payment_refunded"] = int(r[6] or 0)

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
    its closing balance is the same net (``sync.ledger.settlements``).
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
    if from_payments:  # cash kept: what was paid back to the customer is not paid
        paid: int | None = s["payments"] - s["payment_refunded"] + s["marked_excess"]
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
    if paid is not None:  # credit refunded to the customer is no longer theirs
        net = s["billed"] - paid - s["credit_note_total"] + s["credit_refunded"]
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
