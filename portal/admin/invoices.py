"""Admin: find any invoice, see its facts and paid marks, mark it paid (or undo), bulk
marks, and the queues an office works through: conflicts and customers' "I've paid"."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from portal.admin import actor, bp
from portal.context import portal
from schemas.money import MoneyError, to_minor
from schemas.tables import Account, Conflict, Contact, Invoice, PaidMark, PaymentClaim
from sync.errors import UsageError
from sync.ledger import invoice_detail
from sync.marks import (
    CONFLICT_ACTIONS,
    confirm_claim,
    mark_paid,
    reject_claim,
    resolve_conflict,
    undo_mark,
)

I = Invoice.__table__  # type: ignore[attr-defined]  # noqa: E741
A = Account.__table__  # type: ignore[attr-defined]
M = PaidMark.__table__  # type: ignore[attr-defined]
K = Conflict.__table__  # type: ignore[attr-defined]
CL = PaymentClaim.__table__  # type: ignore[attr-defined]
CT = Contact.__table__  # type: ignore[attr-defined]
ACTION_LABELS = {
    "acknowledge": "Noted",
    "keep_mark": "Keep our mark",
    "accept_feed": "Accept the billing system",
}


def today() -> date:
    return datetime.now(UTC).date()


def _amount(text: str, currency: str) -> int | None:
    """Parse a typed amount; None for blank; UsageError for anything unreadable."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        return to_minor(Decimal(text.lstrip("$€£")), currency)
    except (InvalidOperation, MoneyError) as exc:
        raise UsageError(f"{text!r} is not an amount in {currency}") from exc


def _day(text: str) -> date:
    try:
        return (
            date.fromisoformat((text or "").strip())
            if text and text.strip()
            else today()
        )
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


@bp.get("/invoices")
def invoices() -> str:
    """Search every invoice by number, reference or customer."""
    q = request.args.get("q", "").strip()[:100]
    rows = []
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
    )  # fmt: skip


@bp.post("/invoices/<id:invoice_id>/mark")
def mark(invoice_id: int) -> Response:
    """Record that an invoice is paid (in full, or how much so far)."""
    form = request.form
    with portal().store.read() as conn:
        row = conn.execute(
            select(I.c.currency, I.c.total_minor).where(I.c.id == invoice_id)
        ).first()
    if row is None:
        abort(404)
    try:
        amount = (
            None
            if form.get("how") == "full"
            else _amount(form.get("amount", ""), row.currency)
        )
        if form.get("how") != "full" and amount is None:
            raise UsageError(
                "enter how much has been paid so far, or choose paid in full"
            )
        with portal().store.write() as conn:
            mark_paid(
                conn, invoice_id, paid_on=_day(form.get("paid_on", "")), actor=actor(),
                amount_minor=amount, method=form.get("method", "")[:80] or None,
                reference=form.get("reference", "")[:120] or None, note=form.get("note", "")[:500] or None,
            )  # fmt: skip
    except UsageError as exc:
        flash(str(exc), "error")
    else:
        flash("Marked paid. Customers see it now.", "ok")
    return redirect(url_for("admin.invoice", invoice_id=invoice_id))


@bp.post("/marks/<id:mark_id>/undo")
def undo(mark_id: int) -> Response:
    """Withdraw a paid mark (kept in the history)."""
    with portal().store.read() as conn:
        invoice_id = conn.execute(
            select(M.c.invoice_id).where(M.c.id == mark_id)
        ).scalar()
    if invoice_id is None:
        abort(404)
    try:
        with portal().store.write() as conn:
            undo_mark(conn, mark_id, actor())
    except UsageError as exc:
        flash(str(exc), "error")
    else:
        flash("Mark withdrawn.", "ok")
    return redirect(url_for("admin.invoice", invoice_id=invoice_id))


@bp.route("/marks/bulk", methods=["GET", "POST"])
def bulk_marks() -> str:
    """Mark several invoices paid at once, each with its own date and amount.

    One line per invoice: ``number, amount (blank = in full), date, method, reference``.
    Every line gets its own result; a bad line never stops the others.
    """
    results: list[tuple[int, str, str]] = []
    text = ""
    if request.method == "POST":
        text = request.form.get("lines", "")[:200_000]
        rows = list(csv.reader(io.StringIO(text)))
        for n, cells in enumerate(rows, start=1):
            cells = [c.strip() for c in cells] + [""] * 5
            number, amount, when, method, reference = cells[:5]
            if not number or number.lower() in ("number", "invoice"):
                continue
            try:
                with portal().store.write() as conn:
                    found = conn.execute(
                        select(I.c.id, I.c.currency).where(I.c.number == number)
                    ).all()
                    if len(found) != 1:
                        raise UsageError(f"{len(found)} invoices are numbered {number}")
                    mark_paid(
                        conn, found[0].id, paid_on=_day(when), actor=actor(),
                        amount_minor=_amount(amount, found[0].currency), method=method or None,
                        reference=reference or None,
                    )  # fmt: skip
                results.append((n, number, "marked paid"))
            except UsageError as exc:
                results.append((n, number, f"not marked: {exc}"))
    return render_template("admin/bulk_marks.html", results=results, text=text)


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
