"""Invoices as the office works them: search, one invoice's paid marks, conflicts and
customers' claims, and the conflicts and claims queues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, or_, select

from portal.admin.queries import contains
from schemas.tables import (
    ACCOUNTS,
    CONFLICTS,
    CONTACTS,
    INVOICES,
    PAID_MARKS,
    PAYMENT_CLAIMS,
)

I = INVOICES  # noqa: E741
A = ACCOUNTS
M = PAID_MARKS
K = CONFLICTS
CL = PAYMENT_CLAIMS
CT = CONTACTS


def search_invoices(conn: Connection, q: str, limit: int = 200) -> Sequence[Any]:
    """Invoices whose number, reference or customer name contains *q* (taken
    literally: ``%`` and ``_`` are not wildcards), newest first."""
    pattern = contains(q)
    return conn.execute(
        select(I, A.c.name.label("account_name"))
        .join(A, A.c.id == I.c.account_id)
        .where(
            or_(
                I.c.number.ilike(pattern, escape="\\"),
                I.c.reference.ilike(pattern, escape="\\"),
                A.c.name.ilike(pattern, escape="\\"),
            )
        )
        .order_by(I.c.issue_date.desc(), I.c.id.desc())
        .limit(limit)
    ).all()


def marks_of(conn: Connection, invoice_id: int) -> Sequence[Any]:
    """An invoice's paid marks, newest first."""
    return conn.execute(
        select(M).where(M.c.invoice_id == invoice_id).order_by(M.c.id.desc())
    ).all()


def open_conflicts_of(conn: Connection, invoice_id: int) -> Sequence[Any]:
    """An invoice's conflicts still waiting for a decision."""
    return conn.execute(
        select(K).where(K.c.invoice_id == invoice_id, K.c.resolved_at.is_(None))
    ).all()


def claims_of(conn: Connection, invoice_id: int) -> Sequence[Any]:
    """Customers' "I've paid" for an invoice, newest first, with who said it."""
    return conn.execute(
        select(CL, CT.c.email)
        .join(CT, CT.c.id == CL.c.contact_id)
        .where(CL.c.invoice_id == invoice_id)
        .order_by(CL.c.id.desc())
    ).all()


def conflict_queue(conn: Connection, limit: int = 500) -> Sequence[Any]:
    """Conflicts, open ones first, oldest first, with their invoice and customer."""
    return conn.execute(
        select(K, I.c.number, I.c.currency, A.c.name.label("account_name"))
        .join(I, I.c.id == K.c.invoice_id)
        .join(A, A.c.id == I.c.account_id)
        .order_by(K.c.resolved_at.is_not(None), K.c.opened_at)
        .limit(limit)
    ).all()


def claim_queue(conn: Connection, limit: int = 500) -> Sequence[Any]:
    """Customers' claims, pending ones first, newest first."""
    return conn.execute(
        select(
            CL,
            I.c.number,
            I.c.currency,
            I.c.balance_minor,
            CT.c.email,
            A.c.name.label("account_name"),
        )
        .join(I, I.c.id == CL.c.invoice_id)
        .join(CT, CT.c.id == CL.c.contact_id)
        .join(A, A.c.id == I.c.account_id)
        .order_by(CL.c.state != "pending", CL.c.created_at.desc())
        .limit(limit)
    ).all()


def invoice_currency(conn: Connection, invoice_id: int) -> str | None:
    """An invoice's currency (None when there is no such invoice)."""
    return conn.execute(select(I.c.currency).where(I.c.id == invoice_id)).scalar()


def invoice_of_mark(conn: Connection, mark_id: int) -> int | None:
    """The invoice a paid mark is on (None when there is no such mark)."""
    return conn.execute(select(M.c.invoice_id).where(M.c.id == mark_id)).scalar()


def invoices_numbered(conn: Connection, number: str) -> Sequence[Any]:
    """Every invoice numbered *number* (id, currency): two customers may share one."""
    return conn.execute(select(I.c.id, I.c.currency).where(I.c.number == number)).all()
