"""Admin: unmatched documents, the files no manifest or record number linked yet.

Every document that arrived (a PDF, PNG or JPEG through any source) and that nothing
linked waits here with why it waits; the import that brought it said so ("it waits in
the list of unmatched documents"). The office links one to an account, and optionally
to that account's invoice or credit note; the link is audited (``link_document``).
Below them, the attachments the billing system named that are not fetched yet, each
with its document (or that the document is not imported yet).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from adapters.manifest import DOCUMENT_KINDS
from portal.admin import actor, bp
from portal.context import portal
from sync.engine.documents.links import link_named, unmatched_documents
from sync.errors import UsageError
from sync.ledger.invoices import waiting_attachments

SHOWN = 200  # waiting documents listed; the count is always complete


@bp.get("/documents")
def documents() -> str:
    """Documents waiting for an account, oldest first, each with why it waits."""
    p = portal()
    with p.store.read() as conn:
        waiting = unmatched_documents(conn, p.settings)
        to_fetch, attachments = waiting_attachments(conn, SHOWN)
    return render_template(
        "admin/documents.html",
        rows=waiting[:SHOWN],
        count=len(waiting),
        kinds=DOCUMENT_KINDS,
        attachments=attachments,
        to_fetch=to_fetch,
    )


@bp.post("/documents/<id:document_id>/link")
def documents_link(document_id: int) -> Response:
    """Link a waiting document to the account (and record) the office names."""
    p = portal()
    form = request.form
    try:
        with p.store.write(ledger=False) as conn:
            linked = link_named(
                conn,
                document_id,
                account=form.get("account", "")[:300],
                record=form.get("record", "")[:300],
                kind=form.get("kind") or None,
                actor=actor(),
            )
    except UsageError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.documents"))
    flash(f"{linked['file_name']} is linked.", "ok")
    return redirect(url_for("admin.documents"))
