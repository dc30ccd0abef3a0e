"""Customer pages (blueprint ``customer``): home, invoices, credit notes, payments,
statements, documents and their downloads. Every record is found through the contact's
Scope; anything outside it is a 404.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from portal import params
from portal.auth import contact_required
from portal.context import client_ip, portal
from portal.downloads import download as _download
from portal.downloads import safe_filename as _safe_filename
from portal.queries import (
    SORTS,
    STATUS_FILTERS,
    InvoiceFilter,
    all_invoices,
    credit_note_detail,
    credit_notes,
    document_in_scope,
    documents,
    freshness,
    freshness_from,
    invoice_detail,
    invoice_page,
    invoices_by_id,
    oldest_open_issue_date,
    payable_online,
    payment_detail,
    payments,
    recent_invoices,
    reported_payments,
    site_totals,
    statement,
    summary,
)
from portal.scope import Scope, require_amounts
from schemas.money import to_text
from schemas.settlement import is_overdue
from sync.ledger.csv_out import write_csv
from sync.ledger.marks import claim_window
from sync.ledger.pdf import invoice_pdf, statement_pdf
from sync.ledger.statement_output import statement_csv
from sync.store.audit import record
from sync.store.blobs import BlobMissing, read_blob

bp = Blueprint("customer", __name__)
ZIP_LIMIT = 100
_LIST_KEYS = ("q", "status", "site", "from", "to", "sort")


def today() -> date:
    """Today's date (UTC) for overdue and aging."""
    return datetime.now(UTC).date()


def _audit(action: str, **kw: Any) -> None:
    # A view or download is logged without waiting for the disk (``Store.write``):
    # the page costs one commit, not one fsync.
    with portal().store.write(ledger=False, durable=False) as conn:
        if g.preview:  # an admin previewing: never a customer's view or download
            who, kw = f"admin:{g.admin['email']}", {**kw, "viewed": action}
            record(
                conn, who, "preview_view", ip=client_ip(), contact=g.contact["id"], **kw
            )
            return
        record(conn, f"contact:{g.contact['id']}", action, ip=client_ip(), **kw)


def _filter_from_request() -> InvoiceFilter:
    args = request.args
    account = params.id_filter(args.get("site"), "site")
    if account is not None and account not in g.scope.billing_ids:
        abort(404)  # another customer's site: as if it did not exist
    return InvoiceFilter(
        q=args.get("q", "").strip()[:100],
        status=params.choice("status", STATUS_FILTERS, "all"),
        start=params.day(args.get("from"), "from"),
        end=params.day(args.get("to"), "to"),
        sort=params.choice("sort", list(SORTS), "newest"),
        page=params.page(args.get("page")),
        account=account,
    )


def date_presets(day: date) -> list[tuple[str, date, date]]:
    """The invoice list's quick periods: (label, from, to), counted from *day*."""
    month = day.month - 3
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    three_ago = date(year, month, min(day.day, 28))
    return [
        ("Last 3 months", three_ago, day),
        ("This year", date(day.year, 1, 1), day),
        ("Last year", date(day.year - 1, 1, 1), date(day.year - 1, 12, 31)),
    ]


def _preset_links(f: InvoiceFilter) -> list[tuple[str, str, bool]]:
    """(label, url, chosen) for each quick period, the other filters kept."""
    args: dict[str, Any] = {
        k: v for k, v in _list_args(f).items() if k not in ("from", "to")
    }
    links = [
        (label, url_for("customer.invoices", **{**args, "from": a, "to": b}), chosen)
        for label, start, end in date_presets(today())
        for a, b, chosen in [(start.isoformat(), end.isoformat(), (f.start, f.end) == (start, end))]
    ]  # fmt: skip
    if f.start or f.end:
        links.append(("Any date", url_for("customer.invoices", **args), False))
    return links


def _list_args(f: InvoiceFilter) -> dict[str, Any]:
    """The filters of *f* as query arguments (empty ones left out)."""
    args = {
        "q": f.q,
        "status": f.status if f.status != "all" else "",
        "site": "" if f.account is None else str(f.account),
        "from": f.start.isoformat() if f.start else "",
        "to": f.end.isoformat() if f.end else "",
        "sort": f.sort if f.sort != "newest" else "",
    }
    return {k: v for k, v in args.items() if v}


@bp.get("/")
@contact_required
def home() -> str:
    """What is owed, what is overdue, what is new."""
    scope: Scope = g.scope
    p = portal()
    amounts = scope.sees_amounts
    with p.store.read() as conn:
        totals = summary(conn, scope, today()) if amounts else []
        sites = site_totals(conn, scope, today()) if amounts else []
        online = payable_online(conn, scope) if amounts else 0
        recent = recent_invoices(conn, scope) if amounts else []
        docs = documents(conn, scope, limit=5)
        if g.get("fresh") is not None:  # read with the session (sync.access.visits)
            fresh = freshness_from(scope, g.fresh)
        else:  # an admin's preview: the scope was built apart
            fresh = freshness(conn, scope)
    first = p.settings.default_currency  # the business's own currency leads
    totals.sort(key=lambda t: (t["currency"] != first, t["currency"]))
    return render_template(
        "customer/home.html", totals=totals, recent=recent, docs=docs, today=today(),
        sites=sites if scope.several_accounts else [], online=online,
        fresh=_freshness_line(fresh),
    )  # fmt: skip


def _freshness_line(
    fresh: list[tuple[str, datetime | None, datetime | None]],
) -> tuple[datetime, datetime | None] | None:
    """(figures as of, last received) over every source in view: the oldest export
    date, so no figure is claimed fresher than it is; source names are internal."""
    dates = [d for _, as_of, imported in fresh if (d := as_of or imported) is not None]
    if not dates:
        return None
    received = [imported for _, _, imported in fresh if imported]
    return min(dates), max(received) if received else None


@bp.get("/invoices")
@contact_required
def invoices() -> str | Response:
    """Search, filter, sort and page through invoices."""
    scope = require_amounts()
    f = _filter_from_request()
    p = portal()
    size = p.settings.portal.page_size
    with p.store.read() as conn:
        rows, total = invoice_page(conn, scope, f, today(), size)
    pages = max(1, -(-total // size))
    if f.page > pages:  # an old link or a typed number past the end: the last page
        return redirect(url_for("customer.invoices", **_list_args(f), page=pages))
    sites = sorted(scope.billing_ids, key=lambda a: (scope.names[a].casefold(), a))
    return render_template(
        "customer/invoices.html", rows=rows, total=total, f=f, pages=pages, today=today(),
        statuses=STATUS_FILTERS, sorts=list(SORTS), args=_list_args(f),
        back=urlencode({**_list_args(f), "page": f.page}),
        presets=_preset_links(f), sites=sites if len(sites) > 1 else [],
    )  # fmt: skip


@bp.get("/invoices.csv")
@contact_required
def invoices_csv() -> Response:
    """The invoice list as CSV (same filters as the page)."""
    scope = require_amounts()
    f = _filter_from_request()
    with portal().store.read() as conn:
        rows = all_invoices(conn, scope, f, today())
    header = [
        "number",
        "account",
        "issue_date",
        "due_date",
        "currency",
        "total",
        "paid",
        "credited",
        "balance_due",
        "status",
        "overdue",
        "reference",
    ]
    data = write_csv(
        header,
        (
            [
                r.number,
                r.account_name,
                r.issue_date,
                r.due_date,
                r.currency,
                to_text(r.total_minor, r.currency),
                to_text(r.paid_minor, r.currency),
                to_text(r.credited_minor, r.currency),
                to_text(r.balance_minor, r.currency),
                r.status,
                "yes" if is_overdue(r.status, r.due_date, today()) else "no",
                r.reference,
            ]
            for r in rows
        ),
        text_columns=(0, 1, 9, 10, 11),
    )
    _audit("export_invoices_csv", count=len(rows))
    return _download(data, "invoices.csv", "text/csv")


@bp.get("/invoices/<id:invoice_id>")
@contact_required
def invoice(invoice_id: int) -> str:
    """One invoice: lines, totals, what was applied, documents, pay link."""
    return _invoice_page(invoice_id)


def _invoice_page(
    invoice_id: int, claim_form: dict[str, str] | None = None, error: str | None = None
) -> str:
    """The invoice page; after a refused "I've paid", with the form as typed and why."""
    scope = require_amounts()
    with portal().store.read() as conn:
        detail = invoice_detail(conn, scope, invoice_id)
    if detail is None:
        abort(404)
    if claim_form is None:
        _audit(
            "view_invoice",
            account_id=detail["invoice"]["account_id"],
            record_kind="invoice",
            record_id=invoice_id,
        )
    return render_template(
        "customer/invoice.html",
        d=detail,
        inv=detail["invoice"],
        today=today(),
        claims=detail["claims"],
        paid_window=claim_window(detail["invoice"]["issue_date"]),
        claim_form=claim_form,
        claim_error=error,
    )


def _invoice_pdf_bytes(detail: dict[str, Any]) -> tuple[bytes, str]:
    """The original document if one was imported, else a copy drawn from the record."""
    p = portal()
    number = detail["invoice"]["number"]
    for doc in detail["documents"]:
        if doc["kind"] == "invoice_copy" and doc["content_type"] == "application/pdf":
            try:
                return read_blob(
                    p.settings, doc["storage_key"]
                ), f"invoice-{number}.pdf"
            except BlobMissing:
                break
    return invoice_pdf(detail, p.settings.business, today()), f"invoice-{number}.pdf"


@bp.get("/invoices/<id:invoice_id>/pdf")
@contact_required
def invoice_download(invoice_id: int) -> Response:
    """Download an invoice copy."""
    scope = require_amounts()
    with portal().store.read() as conn:
        detail = invoice_detail(conn, scope, invoice_id)
    if detail is None:
        abort(404)
    data, name = _invoice_pdf_bytes(detail)
    _audit(
        "download_invoice_pdf",
        account_id=detail["invoice"]["account_id"],
        record_kind="invoice",
        record_id=invoice_id,
    )
    return _download(
        data, name, "application/pdf", inline=request.args.get("view") == "1"
    )


@bp.post("/invoices/download")
@contact_required
def invoices_zip() -> Response:
    """A ZIP of the selected invoices' PDFs."""
    scope = require_amounts()
    ids = []
    for value in request.form.getlist("invoice")[: ZIP_LIMIT + 1]:
        invoice_id = params.record_id(value)
        if invoice_id is None:
            abort(404)
        ids.append(invoice_id)
    if not ids:  # back to the same page and filters, saying what to do
        flash("Tick the invoices you want, then download them as a ZIP.", "error")
        back = dict(parse_qsl(request.form.get("back", "")[:2000]))
        kept: dict[str, Any] = {
            k: back[k] for k in (*_LIST_KEYS, "page") if back.get(k)
        }
        return redirect(url_for("customer.invoices", **kept))
    if len(ids) > ZIP_LIMIT:
        abort(400, description=f"Choose between 1 and {ZIP_LIMIT} invoices.")
    buffer = io.BytesIO()
    with portal().store.read() as conn:
        found = invoices_by_id(conn, scope, ids)
        if len(found) != len(set(ids)):
            abort(404)
        details = [invoice_detail(conn, scope, row.id) for row in found]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        used: set[str] = set()
        for detail in details:
            assert detail is not None  # in view a moment ago, in the same transaction
            data, name = _invoice_pdf_bytes(detail)
            name = _safe_filename(name)
            while name in used:
                name = "copy-" + name
            used.add(name)
            archive.writestr(name, data)
    _audit("download_invoices_zip", count=len(found), invoices=[r.id for r in found])
    return _download(buffer.getvalue(), "invoices.zip", "application/zip")


@bp.get("/credit-notes")
@contact_required
def credit_note_list() -> str:
    """Credit notes and what is left of each."""
    scope = require_amounts()
    with portal().store.read() as conn:
        rows = credit_notes(conn, scope)
    return render_template("customer/credit_notes.html", rows=rows)


@bp.get("/credit-notes/<id:credit_note_id>")
@contact_required
def credit_note(credit_note_id: int) -> str:
    """One credit note and the invoices it was applied to."""
    scope = require_amounts()
    with portal().store.read() as conn:
        detail = credit_note_detail(conn, scope, credit_note_id)
    if detail is None:
        abort(404)
    _audit(
        "view_credit_note",
        account_id=detail["credit_note"]["account_id"],
        record_kind="credit_note",
        record_id=credit_note_id,
    )
    return render_template(
        "customer/credit_note.html", d=detail, cn=detail["credit_note"]
    )


@bp.get("/payments")
@contact_required
def payment_list() -> str:
    """Payments received and the invoices they paid."""
    scope = require_amounts()
    with portal().store.read() as conn:
        records = payments(conn, scope)
        reported = reported_payments(conn, scope)
    # One list, newest first: payment records and the cash statements show without one.
    rows = [{"on": r["payment"].received_on, **r} for r in records]
    rows += [{"on": r["on"], "reported": r} for r in reported]
    rows.sort(key=lambda r: r["on"], reverse=True)
    return render_template("customer/payments.html", rows=rows)


def default_statement_start(day: date, oldest_open: date | None) -> date:
    """The last 12 months, or further back to the oldest invoice still open."""
    try:
        year_ago = day.replace(year=day.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        year_ago = date(day.year - 1, 3, 1)
    return min(year_ago, oldest_open) if oldest_open else year_ago


@bp.get("/payments/<id:payment_id>")
@contact_required
def payment_receipt(payment_id: int) -> str:
    """A receipt: what one payment paid, when and how."""
    scope = require_amounts()
    with portal().store.read() as conn:
        detail = payment_detail(conn, scope, payment_id)
    if detail is None:
        abort(404)
    _audit(
        "view_payment",
        account_id=detail["payment"].account_id,
        record_kind="payment",
        record_id=payment_id,
    )
    return render_template(
        "customer/payment.html", p=detail["payment"], applied=detail["applied"]
    )


def _statement_request(scope: Scope) -> tuple[int, date, date]:
    start = params.day(request.args.get("from"), "from")
    if start is None:
        with portal().store.read() as conn:
            oldest = oldest_open_issue_date(conn, scope)
        start = default_statement_start(today(), oldest)
    end = params.day(request.args.get("to"), "to") or today()
    if end < start:
        start, end = end, start
    roots = [a for a in scope.roots if a in scope.billing_ids] or sorted(
        scope.billing_ids
    )
    chosen = request.args.get("account")
    if chosen is not None:
        account_id = params.record_id(chosen)
        if account_id is None or account_id not in scope.billing_ids:
            abort(404)
    elif scope.current is not None and scope.current in scope.billing_ids:
        account_id = scope.current
    else:
        account_id = roots[0]
    return account_id, start, end


@bp.get("/statements")
@contact_required
def statements() -> str:
    """A statement for any period, with PDF and CSV downloads."""
    scope = require_amounts()
    account_id, start, end = _statement_request(scope)
    with portal().store.read() as conn:
        built = statement(conn, scope, account_id, start, end)
    if built is None:
        abort(404)
    return render_template(
        "customer/statements.html", st=built, account_id=account_id, start=start, end=end,
        choices=[a for a in scope.roots if a in scope.billing_ids],
    )  # fmt: skip


@bp.get("/statements/download")
@contact_required
def statement_download() -> Response:
    """The statement as PDF or CSV."""
    scope = require_amounts()
    account_id, start, end = _statement_request(scope)
    fmt = request.args.get("format", "pdf")
    if fmt not in ("pdf", "csv"):
        abort(404)
    p = portal()
    with p.store.read() as conn:
        built = statement(conn, scope, account_id, start, end)
    if built is None:
        abort(404)
    name = f"statement-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"
    if fmt == "pdf":
        data, kind = (
            statement_pdf(built, p.settings.business, today()),
            "application/pdf",
        )
    else:
        data, kind = statement_csv(built), "text/csv"
    _audit(
        "download_statement", account_id=account_id, format=fmt, start=start, end=end
    )
    return _download(data, name, kind)


@bp.get("/documents")
@contact_required
def document_list() -> str:
    """Job sheets, receipts, contracts and invoice originals."""
    with portal().store.read() as conn:
        rows = documents(conn, g.scope)
    return render_template("customer/documents.html", rows=rows)


@bp.get("/documents/<id:document_id>")
@contact_required
def document(document_id: int) -> Response:
    """Download one document."""
    p = portal()
    with p.store.read() as conn:
        row = document_in_scope(conn, g.scope, document_id)
    if row is None:
        abort(404)
    try:
        data = read_blob(p.settings, row.storage_key)
    except BlobMissing:
        abort(404)
    _audit(
        "download_document",
        account_id=row.account_id,
        record_kind="document",
        record_id=document_id,
    )
    return _download(data, row.file_name, row.content_type)


@bp.post("/invoices/<id:invoice_id>/paid")
@contact_required
def report_payment(invoice_id: int) -> Response | tuple[str, int]:
    """A customer tells the office they paid; nothing changes until it is confirmed.

    The amount is read in the business's locale (schemas.typed_amount) and may not be
    more than the balance due; a refusal shows the form again, as typed, with why.
    """
    from schemas.money import format_money
    from schemas.typed_amount import AmountError, read_minor
    from sync.errors import UsageError
    from sync.ledger.marks import claim_payment

    scope = require_amounts()
    p = portal()
    with p.store.read() as conn:
        detail = invoice_detail(conn, scope, invoice_id)
    if detail is None:
        abort(404)
    inv = detail["invoice"]
    if inv["status"] not in ("unpaid", "partially_paid"):
        abort(404)
    form = {
        k: request.form.get(k, "")[:500] for k in ("amount", "paid_on", "reference")
    }
    locale = p.settings.business.locale
    try:
        amount = read_minor(form["amount"], inv["currency"], locale)
        open_minor = (
            inv["total_minor"] if inv["balance_minor"] is None else inv["balance_minor"]
        )
        if amount > open_minor:
            shown = format_money(open_minor, inv["currency"], locale=locale)
            raise AmountError(
                f"That is more than the balance due, {shown}. Enter the amount you paid "
                "for this invoice."
            )
        paid_on = date.fromisoformat(form["paid_on"].strip())
    except AmountError as exc:
        return _invoice_page(invoice_id, form, str(exc)), 422
    except ValueError:
        return _invoice_page(invoice_id, form, "Enter the date you paid."), 422
    try:
        with p.store.write(ledger=False) as conn:
            claim_payment(
                conn, invoice_id, g.contact["id"], amount_minor=amount, paid_on=paid_on,
                reference=form["reference"].strip()[:120] or None,
                note=request.form.get("note", "").strip()[:500] or None, ip=client_ip(),
                locale=locale,
            )  # fmt: skip
    except UsageError as exc:
        return _invoice_page(
            invoice_id, form, f"That could not be recorded: {exc}."
        ), 422
    flash("Thank you. We will check the payment and update the invoice.", "ok")
    return redirect(url_for("customer.invoice", invoice_id=invoice_id))
