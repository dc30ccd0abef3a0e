"""Email notices, the office's side: who receives what, and switching a contact's.

``/admin/notices`` lists every subscription (contact, account, kind, since when, the
last notice and whether it still reaches the contact); a contact's page shows theirs
with a switch per account and kind (``contact_notices``). Each change is audited
(``notice_on`` / ``notice_off``, by the admin).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import Connection
from werkzeug.wrappers import Response

from portal.admin import actor, bp
from portal.context import client_ip, portal
from sync.access.notices import choices, recipients, set_notice
from sync.errors import UsageError


def contact_notices(conn: Connection, contact_id: int) -> dict[str, Any]:
    """What the contact page shows of notices: the switches and what was sent."""
    return {"choices": choices(conn, contact_id), "rows": recipients(conn, contact_id)}


@bp.get("/notices")
def notices() -> str:
    """Who receives which email notice, for which account."""
    with portal().store.read() as conn:
        rows = recipients(conn)
    return render_template(
        "admin/notices.html", rows=rows, settings=portal().settings.notices
    )


@bp.post("/contacts/<id:contact_id>/notices")
def contact_notices_save(contact_id: int) -> Response:
    """Switch a contact's notices on or off, as the contact page's form says."""
    wanted = set(request.form.getlist("notice"))
    changed = 0
    try:
        with portal().store.write(ledger=False) as conn:
            for choice in choices(conn, contact_id):
                on = f"{choice.account_id}:{choice.kind}" in wanted
                changed += set_notice(
                    conn, contact_id, choice.account_id, choice.kind, on,
                    actor=actor(), ip=client_ip(),
                )  # fmt: skip
    except UsageError as exc:
        flash(str(exc), "error")
    else:
        flash(
            f"Email notices saved ({changed} change{'' if changed == 1 else 's'}).",
            "success",
        )
    return redirect(url_for("admin.contacts_show", contact_id=contact_id) + "#notices")
