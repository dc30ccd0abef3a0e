"""Email notices, the customer's side: choosing them, and unsubscribing from a mail.

``/notices`` (signed in, on the customer blueprint): the contact turns each notice on or
off for each account they see. ``/notices/unsubscribe/<token>`` needs no sign-in: the
token (``sync.access.notices``) is signed with the portal's secret key and names the
contact and the kind. A GET only shows a confirmation (mail scanners follow links); a
POST unsubscribes, from the confirmation's button or as the one-click POST mail
providers send for ``List-Unsubscribe-Post`` (RFC 8058). That POST carries no CSRF
token and needs none: the token in the URL is what authenticates it
(``portal.csrf.EXEMPT``).
"""

from __future__ import annotations

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

from portal.auth import contact_required
from portal.context import client_ip, portal
from portal.customer import bp as customer_bp
from sync.access.contacts import contact_by_id, mask_email
from sync.access.notices import (
    KIND_LABELS,
    choices,
    read_unsubscribe_token,
    set_notice,
    unsubscribe,
)
from sync.errors import UsageError

bp = Blueprint("notices", __name__)


@customer_bp.get("/notices")
@contact_required
def notices() -> str:
    """The contact's email notices, one switch per account and kind."""
    with portal().store.read() as conn:
        found = choices(conn, g.contact["id"])
    return render_template(
        "customer/notices.html", choices=found, settings=portal().settings.notices
    )


@customer_bp.post("/notices")
@contact_required
def notices_save() -> Response:
    """Save the switches of the notices page (audited, one event per change)."""
    wanted = set(request.form.getlist("notice"))
    contact_id = g.contact["id"]
    changed = 0
    with portal().store.write(ledger=False) as conn:
        for choice in choices(conn, contact_id):
            on = f"{choice.account_id}:{choice.kind}" in wanted
            try:
                changed += set_notice(
                    conn, contact_id, choice.account_id, choice.kind, on,
                    actor=f"contact:{contact_id}", ip=client_ip(),
                )  # fmt: skip
            except UsageError as exc:  # access changed while the page was open
                flash(str(exc), "error")
    flash(
        "Your email notices were saved." if changed else "Nothing was changed.",
        "success",
    )
    return redirect(url_for("customer.notices"))


def _token_or_404(token: str) -> tuple[int, str]:
    found = read_unsubscribe_token(portal().settings, token)
    if found is None:
        abort(404, description="This unsubscribe link is not valid.")
    return found


@bp.route("/notices/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe_link(token: str) -> str:
    """GET: ask to confirm. POST (the button, or a mail provider's one click): stop."""
    contact_id, kind = _token_or_404(token)
    p = portal()
    if request.method == "GET":
        with p.store.read() as conn:
            contact = contact_by_id(conn, contact_id)
        return render_template(
            "notices/unsubscribe.html", label=KIND_LABELS[kind], done=False,
            masked=mask_email(contact["email"]) if contact else "",
            action=url_for("notices.unsubscribe_link", token=token),
        )  # fmt: skip
    with p.store.write(ledger=False) as conn:
        if contact_by_id(conn, contact_id) is not None:
            unsubscribe(conn, contact_id, kind, actor=f"contact:{contact_id}",
                        ip=client_ip())  # fmt: skip
    return render_template(
        "notices/unsubscribe.html", label=KIND_LABELS[kind], done=True, masked="",
        action="",
    )  # fmt: skip
