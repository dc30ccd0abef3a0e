"""Admin: find any invoice and see its facts and paid marks, and the queues an office
works through: conflicts and customers' "I've paid". Marking paid: portal/admin/marks.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from portal.admin import actor, bp
from portal.context import portal
from schemas.tables import (
    ACCOUNTS,
    CONFLICTS,
    CONTACTS,
    INVOICES,
    PAID_MARKS,
    PAYMENT_CLAIMS,
)
from sync.errors import UsageError
from sync.ledger.invoices import invoice_detail
from sync.ledger.marks import (
    CONFLICT_ACTIONS,
    confirm_claim,
    reject_claim,
    resolve_conflict,
)

I = INVOICES  # noqa: E741
A = ACCOUNTS
M = PAID_MARKS
K = CONFLICTS
CL = PAYMENT_CLAIMS
CT = CONTACTS
ACTION_LABELS = {
    "acknowledge": "Noted",
    "keep_mark": "Keep our mark",
    "accept_feed": "Accept the billing system",
}


def today() -> date:
    return datetime.now(UTC).date()


@bp.get("/invoices")
def invoices() -> str:
    """Search every invoice by number, reference or customer."""
    q = request.args.get("q", "").strip()[:100]
    rows: Sequence[Any] = []
    if q:
        pattern = (
            "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        with portal().store.read() as conn:
            rows = conn.execute(
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
                .limit(200)
            ).all()
    return render_template("admin/invoices.html", q=q, rows=rows, today=today())


@bp.get("/invoices/<id:invoice_id>")
def invoice(invoice_id: int) -> str:
    """An invoice as the feed says it, with its paid marks, conflicts and claims."""
    return render_invoice(invoice_id)


def render_invoice(
    invoice_id: int, form: dict[str, str] | None = None, error: str | None = None
) -> str:
    """The invoice page; after a refused mark, with the form as typed and why."""
    with portal().store.read() as conn:
        detail = invoice_detail(conn, invoice_id)
        if detail is None:
            abort(404)
        marks = conn.execute(
            select(M).where(M.c.invoice_id == invoice_id).order_by(M.c.id.desc())
        ).all()
        conflicts = conn.execute(
            select(K).where(K.c.invoice_id == invoice_id, K.c.resolved_at.is_(None))
        ).all()
        claims = conn.execute(
            select(CL, CT.c.email)
            .join(CT, CT.c.id == CL.c.contact_id)
            .where(CL.c.invoice_id == invoice_id)
            .order_by(CL.c.id.desc())
        ).all()
    return render_template(
        "admin/invoice.html", d=detail, inv=detail["invoice"], marks=marks, conflicts=conflicts,
        claims=claims, today=today(), labels=ACTION_LABELS, actions=CONFLICT_ACTIONS,
        form=form or {}, error=error,
    )  # fmt: skip


@bp.get("/conflicts")
def conflicts() -> str:
    """Feed-versus-mark disagreements and voids of marked invoices, oldest first."""
    with portal().store.read() as conn:
        rows = conn.execute(
            select(K, I.c.number, I.c.currency, A.c.name.label("account_name"))
            .join(I, I.c.id == K.c.invoice_id)
            .join(A, A.c.id == I.c.account_id)
            .order_by(K.c.resolved_at.is_not(None), K.c.opened_at)
            .limit(500)
        ).all()
    decoded = [(r, json.loads(r.detail or "{}")) for r in rows]
    return render_template(
        "admin/conflicts.html",
        rows=decoded,
        actions=CONFLICT_ACTIONS,
        labels=ACTION_LABELS,
    )


@bp.post("/conflicts/<id:conflict_id>/resolve")
def resolve(conflict_id: int) -> Response:
    """Settle a conflict with one action."""
    try:
        with portal().store.write() as conn:
            resolve_conflict(conn, conflict_id, request.form.get("action", ""), actor())
    except UsageError as exc:
        flash(str(exc), "error")
    else:
        flash("Conflict resolved.", "ok")
    return redirect(url_for("admin.conflicts"))


@bp.get("/claims")
def claims() -> str:
    """Customers who said they paid, waiting for the office."""
    with portal().store.read() as conn:
        rows = conn.execute(
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
            .limit(500)
        ).all()
    return render_template("admin/claims.html", rows=rows)


@bp.post("/claims/<id:claim_id>/<decision>")
def decide_claim(claim_id: int, decision: str) -> Response:
    """Confirm (creates a paid mark) or reject a customer's "I've paid"."""
    if decision not in ("confirm", "reject"):
        abort(404)
    try:
        with portal().store.write() as conn:
            if decision == "confirm":
                confirm_claim(conn, claim_id, actor())
            else:
                reject_claim(conn, claim_id, actor())
    except UsageError as exc:
        flash(str(exc), "error")
    else:
        flash(
            "Confirmed: the invoice shows it paid."
            if decision == "confirm"
            else "Rejected.",
            "ok",
        )
    return redirect(url_for("admin.claims"))
