"""Admin: mark an invoice paid (in full, or a payment received now), undo a mark, and
mark many at once.

Amounts are read by ``schemas.typed_amount`` in the business's locale. "Paid in full"
is recorded at once (nothing is left to pay afterwards; the amount field is ignored).
"Partly paid" shows a preview (balance now, received now, balance after) and is
recorded only when the admin confirms it; the confirmation carries the settled amount
the preview was computed from, so a second click or a stale page records nothing
(sync.mark_plans). Bulk marks work the same way: check, then confirm. Every refusal
comes back on the page with what was typed and why, never as an error page.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Connection
from werkzeug.wrappers import Response

from portal.admin import actor, bp
from portal.admin.invoices import render_invoice
from portal.admin.queries import invoices as queries
from portal.context import portal
from schemas.money import format_money
from schemas.typed_amount import AmountError, convention, read_minor
from sync.errors import UsageError
from sync.ledger.bulk_marks import BulkLine, read_bulk_lines
from sync.ledger.mark_plans import (
    FiguresChanged,
    PaymentPlan,
    plan_payment,
    record_payment,
)
from sync.ledger.marks import undo_mark

FORM_FIELDS = ("how", "amount", "paid_on", "method", "reference", "note")
Result = tuple[
    int, str, str, bool
]  # line, invoice number, outcome, marked (or would be)
REFUSED = 422


def today() -> date:
    return datetime.now(UTC).date()


def _day(text: str) -> date:
    text = (text or "").strip()
    if not text:
        return today()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _received(how: str, amount: str, currency: str) -> int | None:
    """The payment received now in minor units; None for paid in full."""
    if how == "full":
        return None  # the amount field belongs to "partly" only
    if how != "part":
        raise UsageError("choose paid in full, or partly paid with the amount received")
    if not amount.strip():
        raise UsageError("enter the amount received now, or choose paid in full")
    return read_minor(amount, currency, portal().settings.business.locale)


@bp.post("/invoices/<id:invoice_id>/mark")
def mark(invoice_id: int) -> Response | tuple[str, int] | str:
    """Record a payment: in full at once; partly after a preview the admin confirms."""
    form = {k: request.form.get(k, "")[:500] for k in FORM_FIELDS}
    form["how"] = form["how"] or "full"
    step = request.form.get("step", "")
    locale = portal().settings.business.locale
    with portal().store.read() as conn:
        currency = queries.invoice_currency(conn, invoice_id)
    if currency is None:
        abort(404)
    if step == "edit":
        return render_invoice(invoice_id, form)
    try:
        received = _received(form["how"], form["amount"], currency)
        paid_on = _day(form["paid_on"])
        if form["how"] == "part" and step != "confirm":
            with portal().store.read() as conn:
                plan = plan_payment(conn, invoice_id, received, locale=locale)
            return render_template(
                "admin/mark_preview.html", plan=plan, form=form, paid_on=paid_on
            )
        settled_was = _settled_was(form["how"])
        with portal().store.write() as conn:
            _, plan = record_payment(
                conn, invoice_id, received, paid_on=paid_on, actor=actor(),
                settled_was=settled_was, method=form["method"][:80] or None,
                reference=form["reference"][:120] or None, note=form["note"] or None,
                locale=locale,
            )  # fmt: skip
    except (AmountError, UsageError) as exc:
        return render_invoice(invoice_id, form, _sentence(exc)), REFUSED
    if plan.balance_after:
        got = format_money(plan.received, plan.currency, locale=locale)
        left = format_money(plan.balance_after, plan.currency, locale=locale)
        flash(
            f"Marked paid: {got} received, balance now {left}. Customers see it now.",
            "ok",
        )
    else:
        flash("Marked paid. Customers see it now.", "ok")
    return redirect(url_for("admin.invoice", invoice_id=invoice_id))


def _settled_was(how: str) -> int | None:
    """The settled amount a confirmed preview was computed from (partly paid only)."""
    if how != "part":
        return None
    text = request.form.get("settled_was", "")
    if not text.isdigit():
        raise FiguresChanged(
            "the payment was not checked before confirming: check it again"
        )
    return int(text)


def _sentence(exc: Exception) -> str:
    text = str(exc)
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


@bp.post("/marks/<id:mark_id>/undo")
def undo(mark_id: int) -> Response:
    """Withdraw a paid mark (kept in the history)."""
    with portal().store.read() as conn:
        invoice_id = queries.invoice_of_mark(conn, mark_id)
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
    """Mark several invoices paid: check the lines, then confirm.

    One line per invoice: ``number, amount received now (blank = in full), date,
    method, reference`` (sync/ledger/bulk_marks.py). Every line gets its own result; a bad
    line never stops the others.
    """
    results: list[Result] = []
    basis: dict[int, int] = {}
    text = ""
    confirm = False
    if request.method == "POST":
        text = request.form.get("lines", "")[:200_000]
        confirm = request.form.get("step") == "confirm"
        lines = read_bulk_lines(text)
        if confirm:
            results = [_confirm_line(line) for line in lines]
        else:
            results = _check_lines(lines, basis)
    return render_template(
        "admin/bulk_marks.html", results=results, text=text, basis=basis,
        confirmed=confirm, ready=sum(1 for r in results if r[3]),
        example=convention(portal().settings.business.locale).example,
    )  # fmt: skip


def _find(conn: Connection, number: str) -> Any:
    found = queries.invoices_numbered(conn, number)
    if len(found) != 1:
        raise UsageError(f"{len(found)} invoices are numbered {number}")
    return found[0]


def _check_lines(lines: list[BulkLine], basis: dict[int, int]) -> list[Result]:
    """What each line would do, without writing; *basis* gets each good line's figures."""
    locale = portal().settings.business.locale
    earlier: dict[int, int] = {}
    results = []
    with portal().store.read() as conn:
        for line in lines:
            try:
                if line.problem:
                    raise UsageError(line.problem)
                row = _find(conn, line.number)
                received = (
                    read_minor(line.amount, row.currency, locale)
                    if line.amount
                    else None
                )
                _day(line.paid_on)
                plan = plan_payment(
                    conn, row.id, received, earlier_minor=earlier.get(row.id, 0),
                    locale=locale,
                )  # fmt: skip
            except (AmountError, UsageError) as exc:
                results.append(
                    (line.line, line.number, f"will not be marked: {exc}", False)
                )
                continue
            earlier[row.id] = earlier.get(row.id, 0) + plan.received
            basis[line.line] = plan.settled_now
            results.append((line.line, line.number, _outcome(plan, "will"), True))
    return results


def _confirm_line(line: BulkLine) -> Result:
    """Record one checked line (its own transaction)."""
    locale = portal().settings.business.locale
    try:
        if line.problem:
            raise UsageError(line.problem)
        with portal().store.write() as conn:
            row = _find(conn, line.number)
            received = (
                read_minor(line.amount, row.currency, locale) if line.amount else None
            )
            paid_on = _day(line.paid_on)
            was = request.form.get(f"basis-{line.line}", "")
            if not was.isdigit():
                raise UsageError("this line was not checked: check the lines again")
            _, plan = record_payment(
                conn, row.id, received, paid_on=paid_on, actor=actor(),
                settled_was=int(was), method=line.method[:80] or None,
                reference=line.reference[:120] or None, locale=locale,
            )  # fmt: skip
    except (AmountError, UsageError) as exc:
        return (line.line, line.number, f"not marked: {exc}", False)
    return (line.line, line.number, _outcome(plan, "was"), True)


def _outcome(plan: PaymentPlan, tense: str) -> str:
    """A line's result: what it records and the balance it leaves."""
    locale = portal().settings.business.locale

    def money(minor: int) -> str:
        return format_money(minor, plan.currency, locale=locale)

    done = "marked paid" if tense == "was" else "to mark paid"
    if plan.in_full:
        what = f"in full ({money(plan.received)} received)"
    else:
        what = f"{money(plan.received)} received"
    return (
        f"{done}: {what}; balance {money(plan.balance_now)} → "
        f"{money(plan.balance_after)}"
    )
