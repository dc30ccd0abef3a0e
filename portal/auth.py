"""Customer sign-in by one-time email link, sessions and sign-out (blueprint ``auth``).

The request form answers the same whether or not the address is known and is rate
limited per address and per client. The emailed link's GET only shows a "Sign in"
button (mail scanners open links); the POST consumes the token and starts a session.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask import session as signed_cookie
from werkzeug.wrappers import Response

from portal import csrf
from portal.context import client_ip, portal
from portal.scope import Scope, scope_for
from portal.security import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from sync.access import contacts, links, outbox, rate_limits, sessions, visits
from sync.access.link_requests import actor_of, may_sign_in
from sync.errors import UsageError
from sync.store.audit import record

bp = Blueprint("auth", __name__)
# Where the account switcher may send the browser back to: this site's own paths only.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_\-.]*")


def load_principal() -> None:
    """Find the request's session (if any) and the contact or admin behind it."""
    g.session = g.contact = g.admin = g.scope = g.preview = g.fresh = None
    token = request.cookies.get(SESSION_COOKIE)
    if not token or request.blueprint in csrf.EXEMPT_BLUEPRINTS:
        return  # webhooks act on their signature, never on a session
    p = portal()
    with p.store.read() as conn:
        visit = visits.find_visit(
            conn, token, p.settings.portal.session_idle_minutes,
            freshness=request.endpoint == "customer.home",
        )  # fmt: skip
        if visit is None:
            return
        info = visit.session
        if visit.contact is not None:
            g.contact = visit.contact
            g.scope = Scope(
                visit.contact["id"], visit.roles, visit.names, visit.parents,
                info.current_account_id if info.current_account_id in visit.roles
                else None,
            )  # fmt: skip
            g.fresh = visit.fresh
        else:
            row = contacts.admin_by_id(conn, info.principal_id)
            if row is None or row["revoked_at"] is not None:
                return
            g.admin = row
            _preview(conn, info)
    g.session = info
    g.session_token = token
    if visit.touch:
        with p.store.write(ledger=False) as conn:
            sessions.touch_session(conn, info.id)


def _preview(conn: Any, info: sessions.SessionInfo) -> None:
    """An admin previewing as a contact (portal.admin.preview) gets that contact's Scope
    on customer pages, for as long as this admin session lives; nothing else changes."""
    wanted = signed_cookie.get(PREVIEW_KEY)
    in_preview = request.blueprint == "customer" or request.endpoint == PREVIEW_POST
    if (
        not in_preview
        or not isinstance(wanted, dict)
        or wanted.get("session") != info.id
    ):
        return
    contact_id = wanted.get("contact")
    contact = (
        contacts.contact_by_id(conn, contact_id)
        if isinstance(contact_id, int)
        else None
    )
    if contact is None or contact["revoked_at"] is not None:
        return
    if request.method not in ("GET", "HEAD") and request.endpoint != PREVIEW_POST:
        abort(403, description="This is a preview: forms are switched off.")
    g.contact = contact
    g.scope = scope_for(conn, contact["id"], info.current_account_id)
    g.preview = wanted


# Where portal.admin.preview keeps {"contact": id, "session": admin session id}, and the
# one customer form a preview may use: the account switcher (it writes the choice to
# the admin's own session row).
PREVIEW_KEY = "preview"
PREVIEW_POST = "auth.switch_account"


def contact_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send visitors without a customer session to the sign-in page."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("contact") is None:
            return redirect(url_for("auth.sign_in"))
        return view(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class _Kind:
    """What differs between signing in a customer contact and an admin."""

    name: str  # principal kind in the database
    request_endpoint: str
    link_endpoint: str
    home: str
    admin: bool


CONTACT = _Kind(
    "contact", "auth.sign_in", "auth.use_contact_link", "customer.home", admin=False
)
ADMIN = _Kind("admin", "admin.sign_in", "admin.use_link", "admin.dashboard", admin=True)


def _by_id(conn: Any, kind: _Kind, principal_id: int) -> dict | None:
    by_id = contacts.admin_by_id if kind.admin else contacts.contact_by_id
    return may_sign_in(conn, kind.name, by_id(conn, principal_id))


def request_link(kind: _Kind) -> str | Response | tuple[str, int]:
    """Show the request form (GET) or queue a link request (POST).

    The answer, and the work done before it, is the same whether or not the address
    is known (sync.link_requests).
    """
    page = {"kind": kind, "form_action": url_for(kind.request_endpoint)}
    if request.method != "POST":  # GET and HEAD (scanners) never act
        return render_template(
            "auth/sign_in.html", step_up=request.args.get("step_up"), **page
        )
    p = portal()
    raw = request.form.get("email", "")
    try:
        email = contacts.normalise_email(raw)
    except UsageError:
        error = "Enter an email address, like name@example.com."
        return render_template("auth/sign_in.html", error=error, email=raw, **page), 400
    # The same work for every address, known or not: count the attempt, then queue
    # the request; whether a link is due is decided off the request path.
    ip = client_ip()
    with p.store.write(ledger=False) as conn:
        by_email, by_ip = rate_limits.count_attempt(conn, email, ip)
        limited = (
            by_email > p.settings.portal.rate_limit_per_email
            or by_ip > p.settings.portal.rate_limit_per_ip
        )
        if not limited:  # the request is a row of the outbox, with the count
            outbox.enqueue_request(conn, kind.name, email, ip)
    if limited:
        return render_template(
            "auth/sign_in.html", limited=True, email=email, **page
        ), 429
    p.mailer.kick()
    return render_template("auth/link_sent.html", email=email, **page)


def use_link(kind: _Kind, token: str) -> str | Response | tuple[str, int]:
    """GET shows a confirm button (scanners may GET); POST consumes the link."""
    p = portal()
    page = {"kind": kind, "form_action": url_for(kind.request_endpoint)}
    if request.method != "POST":  # GET and HEAD (scanners) never act
        with p.store.read() as conn:
            state = links.inspect_link(conn, token)
        if state.status != "valid" or state.kind != kind.name:
            status = state.status if state.kind in (None, kind.name) else "unknown"
            return render_template("auth/link_invalid.html", status=status, **page), 410
        return render_template(
            "auth/confirm.html",
            masked=contacts.mask_email(state.email or ""),
            confirm_action=url_for(kind.link_endpoint, token=token),
            **page,
        )
    ip = client_ip()
    with p.store.write(ledger=False) as conn:
        principal_id = links.consume_link(conn, token, kind.name)
        if principal_id is None:
            state = links.inspect_link(conn, token)
            status = state.status if state.kind in (None, kind.name) else "unknown"
            return render_template("auth/link_invalid.html", status=status, **page), 410
        person = _by_id(conn, kind, principal_id)
        if person is None:
            return render_template(
                "auth/link_invalid.html", status="revoked", **page
            ), 410
        hours = p.settings.portal.session_absolute_hours
        agent = request.user_agent.string
        session_token = sessions.start_session(
            conn, kind.name, principal_id, hours, ip, agent
        )
        record(conn, actor_of(kind.name, person), "sign_in", ip=ip)
    csrf.rotate()  # the new session's tokens are bound to its own secret
    response = redirect(url_for(kind.home))
    set_session_cookie(response, session_token, p.settings)
    return response


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> str | Response | tuple[str, int]:
    """Ask for a sign-in link."""
    return request_link(CONTACT)


@bp.route("/sign-in/<token>", methods=["GET", "POST"])
def use_contact_link(token: str) -> str | Response | tuple[str, int]:
    """Confirm and use a customer's sign-in link."""
    return use_link(CONTACT, token)


@bp.post("/sign-out")
def sign_out() -> Response:
    """End this browser's session."""
    p = portal()
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with p.store.write(ledger=False) as conn:
            sessions.end_session(conn, token)
            if g.get("contact"):
                record(conn, f"contact:{g.contact['id']}", "sign_out", ip=client_ip())
    csrf.rotate()
    response = redirect(url_for("auth.signed_out"))
    clear_session_cookie(response, p.settings)
    return response


@bp.get("/signed-out")
def signed_out() -> str:
    """Confirm the sign-out."""
    return render_template("auth/signed_out.html")


@bp.post("/account")
def switch_account() -> Response:
    """Choose which account (with its sites) the pages show."""
    if g.get("contact") is None:
        abort(404)
    choice = request.form.get("account", "all")
    account_id = None
    if choice != "all":
        try:
            account_id = int(choice)
        except ValueError:
            abort(404)
        if account_id not in g.scope.roles:
            abort(404)
    with portal().store.write(ledger=False) as conn:
        sessions.set_current_account(conn, g.session.id, account_id)
    target = request.form.get("next", "")
    if not _LOCAL_PATH.fullmatch(target):
        target = url_for("customer.home")
    return redirect(target)
