"""Admin: preview the customer pages exactly as one contact sees them.

Starting a preview puts ``{"contact": id, "session": admin session id}`` in Flask's
signed cookie session; ``portal.auth.load_principal`` honours it only on customer pages,
only while that same admin session is alive (signing out, timing out or signing in
again ends the preview), and builds the contact's own Scope, so what the admin sees is
what the contact would. During a preview:

* no customer view or download is recorded: ``customer._audit`` records an admin
  ``preview_view`` event instead, so "who looked at what" stays true;
* customer forms (sign-out, "I've paid", ZIP) are refused; only the account switcher
  works, and it writes to the admin's own session row;
* the contact's sessions and links are never touched.

Starting the preview is recorded as one admin ``preview`` event naming the contact, and
leaving it as one ``preview_end`` event, so the log shows when each preview ran.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, session, url_for
from werkzeug.wrappers import Response

from portal.admin import audit, bp
from portal.auth import PREVIEW_KEY
from portal.context import portal
from sync.access import contacts, grants, sessions


@bp.post("/contacts/<id:contact_id>/preview")
def preview_start(contact_id: int) -> Response:
    """See the customer pages as this contact does."""
    with portal().store.write(ledger=False) as conn:
        contact = contacts.contact_by_id(conn, contact_id)
        if contact is None:
            abort(404)
        if not grants.may_sign_in(conn, contact):
            flash(
                f"There is nothing to preview: {contact['email']} cannot sign in "
                "(access revoked, or none of their accounts is open for the portal).",
                "error",
            )
            return redirect(url_for("admin.contacts_show", contact_id=contact_id))
        sessions.set_current_account(conn, g.session.id, None)
    session[PREVIEW_KEY] = {"contact": contact_id, "session": g.session.id}
    audit("preview", record_kind="contact", record_id=contact_id)
    return redirect(url_for("customer.home"))


@bp.post("/preview/end")
def preview_end() -> Response:
    """Leave the preview and go back to the contact's admin page."""
    wanted = session.pop(PREVIEW_KEY, None)
    if wanted and isinstance(wanted.get("contact"), int):
        audit("preview_end", record_kind="contact", record_id=wanted["contact"])
        return redirect(url_for("admin.contacts_show", contact_id=wanted["contact"]))
    return redirect(url_for("admin.contacts"))
