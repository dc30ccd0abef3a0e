"""Admin: find any invoice and see its facts and paid marks, and the queues an office
works through: conflicts and customers' "I've paid". Marking paid: portal/admin/marks.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal.admin import actor, bp
from portal.admin.queries import invoices as queries
from portal.context import portal
from sync.errors import UsageError
from sync.ledger.invoices import invoice_detail
from sync.ledger.marks import (
    CONFLICT_ACTIONS,
    confirm_claim,
    reject_claim,
    resolve_conflict,
)

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
        with portal().store.read() as conn:
            rows = queries.search_invoices(conn, q)
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
        marks = queries.marks_of(conn, invoice_id)
        conflicts = queries.open_conflicts_of(conn, invoice_id)
        claims = queries.claims_of(conn, invoice_id)
    return render_template(
        "admin/invoice.html", d=detail, inv=detail["invoice"], marks=marks, conflicts=conflicts,
        claims=claims, today=today(), labels=ACTION_LABELS, actions=CONFLICT_ACTIONS,
        form=form or {}, error=error,
    )  # fmt: skip


@bp.get("/conflicts")
def conflicts() -> str:
    """Feed-versus-mark disagreements and voids of marked invoices, oldest first."""
    with portal().store.read() as conn:
        rows = queries.conflict_queue(conn)
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
        rows = queries.claim_queue(conn)
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
