"""Admin: the audit log. Every admin and customer action (``audit_event``), filtered by
account (with its sites), person (a contact or an admin, by address), record (kind and
id), action and dates; paged on screen and exported as CSV with the same filters.

The CSV is formula-safe (``sync.ledger.csv_out``): names, file names and details come from
imports and from customers, and a cell starting with ``=`` must never run in a
spreadsheet. Exporting the log is itself audited. Each event reads as a sentence
(``audit_words``) naming accounts, contacts, invoices and files, never their ids.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, render_template, request
from werkzeug.wrappers import Response

from portal import params
from portal.admin import audit, bp
from portal.admin.audit_words import label, wording_for
from portal.admin.queries.accounts import AccountTree
from portal.admin.queries.audit import (
    AuditFilter,
    choices,
    event_count,
    events,
    people,
)
from portal.context import portal
from portal.downloads import download
from sync.ledger.csv_out import write_csv

PAGE_SIZE = 50
CSV_LIMIT = 100_000


def _filter_from_request() -> AuditFilter:
    """Read the filters from the query string; an unreadable id, date or page
    is a 400 that says which."""
    args = request.args
    return AuditFilter(
        account=args.get("account", "").strip()[:200],
        account_id=params.id_filter(args.get("account_id"), "account id"),
        sites=args.get("sites", "1") == "1",
        person=args.get("person", "").strip()[:254],
        contact_id=params.id_filter(args.get("contact_id"), "contact id"),
        record_kind=args.get("record_kind", "").strip()[:40],
        record_id=params.id_filter(args.get("record_id"), "record id"),
        action=args.get("action", "").strip()[:60],
        start=params.day(args.get("from"), "from"),
        end=params.day(args.get("to"), "to"),
        page=params.page(args.get("page")),
    )


@bp.get("/audit")
def audit_log() -> str:
    """The audit log, newest first, with filters and pages."""
    f = _filter_from_request()
    with portal().store.read() as conn:
        clauses = f.where(conn)
        total = event_count(conn, clauses)
        pages = max(1, -(-total // PAGE_SIZE))
        f.page = min(f.page, pages)
        rows = events(conn, clauses, f.page, PAGE_SIZE)
        tree = AccountTree.load(conn)
        named = [f.contact_id] if f.contact_id is not None else []
        words = wording_for(conn, rows, tree, named)
        actions, kinds = choices(conn)
    return render_template(
        "admin/audit_log.html", f=f, rows=rows, names=people(rows, words.found),
        tree=tree, total=total, pages=pages, actions=actions, kinds=kinds,
        found=words.found, words=words, label=label,
    )  # fmt: skip


@bp.get("/audit.csv")
def audit_log_csv() -> Response:
    """The filtered audit log as CSV (formula-safe)."""
    f = _filter_from_request()
    with portal().store.read() as conn:
        clauses = f.where(conn)
        total = event_count(conn, clauses)
        if total > CSV_LIMIT:
            abort(
                400,
                description=f"That is {total:,} events; an export takes up to "
                f"{CSV_LIMIT:,}. Narrow the dates or other filters and try again.",
            )
        rows = events(conn, clauses)
        tree = AccountTree.load(conn)
        words = wording_for(conn, rows, tree)
    found = words.found
    names = people(rows, found)
    header = ["at_utc", "person", "actor", "action", "account_key", "account", "source",
              "record_kind", "record_id", "record", "ip", "detail"]  # fmt: skip
    data = write_csv(
        header,
        (
            [
                r.at.isoformat(sep=" ", timespec="seconds"),
                names[r.actor].text,
                r.actor,
                r.action,
                tree.nodes[r.account_id].key if r.account_id in tree.nodes else "",
                tree.label(r.account_id) if r.account_id in tree.nodes else "",
                tree.nodes[r.account_id].source if r.account_id in tree.nodes else "",
                r.record_kind or "",
                "" if r.record_id is None else r.record_id,
                found.record_name(r.record_kind, r.record_id),
                r.ip or "",
                words.sentence(r),
            ]
            for r in rows
        ),
        text_columns=(1, 2, 3, 4, 5, 6, 7, 9, 10, 11),
    )
    audit("export_audit_csv", count=len(rows), filters=f.query_args())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return download(data, f"audit-{stamp}.csv", "text/csv")
