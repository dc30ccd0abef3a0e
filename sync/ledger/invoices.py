"""Invoices and credit notes as lists and details, for the CLI and the portal's read model."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from schemas.money import to_text
from schemas.settlement import HIDDEN_LIFECYCLES, is_overdue
from schemas.tables import (
    ACCOUNTS,
    ALLOCATIONS,
    ATTACHMENTS,
    CREDIT_NOTE_LINES,
    CREDIT_NOTES,
    DOCUMENTS,
    INVOICE_LINES,
    INVOICES,
    PAYMENTS,
)
from sync.ledger.allocations import LIVE_ALLOCATION, live_allocations, within

A = ACCOUNTS
I = INVOICES  # noqa: E741
C = CREDIT_NOTES
P = PAYMENTS
AL = ALLOCATIONS
D = DOCUMENTS
IL = INVOICE_LINES
CL = CREDIT_NOTE_LINES
AT = ATTACHMENTS
TAX_MODES = {
    "exclusive": "Tax exclusive",
    "inclusive": "Tax inclusive",
    "no_tax": "No tax",
}


def copy_facts(document: dict[str, Any]) -> list[tuple[str, str]]:
    """What a copy shows beside dates and figures: terms, how amounts stand to tax, and
    the exchange rate (as the billing system states it)."""
    facts = []
    if document.get("terms"):
        facts.append(("Terms", document["terms"]))
    if document.get("tax_mode") in TAX_MODES:
        facts.append(("Amounts", TAX_MODES[document["tax_mode"]]))
    if document.get("exchange_rate"):
        facts.append(("Exchange rate", document["exchange_rate"]))
    return facts


def attachments_of(
    conn: Connection, kind: str, source: str, external_id: str
) -> list[dict[str, Any]]:
    """A document's attachments in the billing system, fetched or waiting to be.

    The entry for "has attachments" without names is left out once names are known.
    """
    rows = [
        dict(r)
        for r in conn.execute(
            select(AT.c.name, AT.c.content_type, AT.c.size, AT.c.document_id)
            .where(
                AT.c.source == source,
                AT.c.document_kind == kind,
                AT.c.document_ref == external_id,
            )
            .order_by(AT.c.id)
        ).mappings()
    ]
    named = [r for r in rows if r["name"] is not None]
    return named or rows[:1]


def waiting_attachments(conn: Connection, limit: int) -> tuple[int, list[dict]]:
    """(how many, the oldest *limit*) attachments not fetched yet, each with the number
    of its document, or None while that document is not imported."""
    waiting = AT.c.document_id.is_(None)
    count = conn.execute(
        select(func.count()).select_from(AT).where(waiting)
    ).scalar_one()
    number = func.coalesce(
        select(I.c.number)
        .where(I.c.source == AT.c.source, I.c.external_id == AT.c.document_ref)
        .where(AT.c.document_kind == "invoice")
        .scalar_subquery(),
        select(C.c.number)
        .where(C.c.source == AT.c.source, C.c.external_id == AT.c.document_ref)
        .where(AT.c.document_kind == "credit_note")
        .scalar_subquery(),
    )
    rows = conn.execute(
        select(
            AT.c.source, AT.c.document_kind, AT.c.document_ref, AT.c.name,
            AT.c.created_at, number.label("number"),
        )
        .where(waiting)
        .order_by(AT.c.created_at, AT.c.id)
        .limit(limit)
    ).mappings()  # fmt: skip
    return count, [dict(r) for r in rows]


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
        .where(I.c.account_id.in_(account_ids), I.c.lifecycle.not_in(HIDDEN_LIFECYCLES))
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
        "facts": copy_facts(dict(row)),
        "attachments": attachments_of(
            conn, "invoice", row["source"], row["external_id"]
        ),
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
                            & I.c.lifecycle.not_in(HIDDEN_LIFECYCLES)
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
        "facts": copy_facts(dict(row)),
        "attachments": attachments_of(
            conn, "credit_note", row["source"], row["external_id"]
        ),
    }
