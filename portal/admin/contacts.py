"""Admin: contacts and access. Who can see which accounts with which role, whether they
were invited and signed in; invite (one, or many from a CSV), resend, revoke, add and
remove single grants, change a contact's address.

Every change of who can see what needs a recent sign-in (``recent_sign_in``): a stale
or stolen admin session cannot hand an account to a new address. Resending an
invitation to the same address changes nothing about access and needs no step-up. The
logic is ``sync.access`` (shared with ``billfold invite``/``revoke``), audited in the
same transaction as the change; mail goes out after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from portal import params
from portal.admin import actor, bp, recent_sign_in, step_up_due
from portal.admin.audit_words import wording_for
from portal.admin.notices import contact_notices
from portal.admin.queries.accounts import AccountTree, account_email
from portal.admin.queries.contacts import contact_history, contact_page, last_invites
from portal.context import client_ip, portal
from schemas.tables import utcnow
from sync.access import outbox
from sync.access.contacts import (
    change_email,
    contact_by_id,
    find_contact,
    mask_email,
    normalise_email,
    revoke_access,
)
from sync.access.grants import (
    ROLES,
    add_grant,
    may_sign_in,
    remove_grant,
    visible_accounts,
)
from sync.access.invites import (
    BulkResult,
    bulk_invite,
    clean_name,
    invite,
    resend_invitation,
)
from sync.access.links import issue_link
from sync.access.mail import email_changed_message
from sync.errors import UsageError

STATUSES = {
    "all": "Everyone",
    "invited": "Invited, not signed in yet",
    "signed_in": "Has signed in",
    "revoked": "Revoked",
}
ROLE_LABELS = {
    "billing": "Billing: amounts and statements",
    "documents": "Documents only, no amounts",
}


@bp.context_processor
def _access_context() -> dict[str, Any]:
    """Role names, and whether a change will first ask for a fresh sign-in (said on the
    page before the admin fills a form in)."""
    due = g.get("session") is not None and g.get("admin") is not None and step_up_due()
    return {
        "step_up_due": due,
        "step_up_minutes": portal().settings.portal.admin_step_up_minutes,
        "role_labels": ROLE_LABELS,
    }


def _page_number() -> int:
    return params.page(request.args.get("page"))


def _contact_or_404(conn: Connection, contact_id: int) -> dict:
    contact = contact_by_id(conn, contact_id)
    if contact is None:
        abort(404)
    return contact


def status_of(contact: Mapping[str, Any], last_invite: Any | None) -> tuple[str, str]:
    """(key, words) for a contact's invite status."""
    if contact["revoked_at"] is not None:
        return "revoked", "Revoked"
    if contact["last_sign_in_at"] is not None:
        return "signed_in", "Signed in"
    if last_invite is not None and last_invite.used_at is None:
        if last_invite.expires_at <= utcnow():
            return "expired", "Invitation expired"
        return "invited", "Invited"
    if contact["invited_at"] is not None:
        return "invited", "Invited"
    return "none", "No access"


PICKER_SIZE = 20


@dataclass(frozen=True)
class Picker:
    """What the account picker shows: the search, its matches, and the accounts already
    chosen (listed first and kept, whatever the search)."""

    q: str
    found: list[int]
    total: int
    chosen: list[int]

    @property
    def picks(self) -> list[int]:
        """The chosen accounts, then the matches not among them."""
        return [*self.chosen, *(a for a in self.found if a not in self.chosen)]


def picker_for(tree: AccountTree, q: str, chosen: list[int]) -> Picker:
    """Search the accounts for the picker (by name, customer number, source, parent)."""
    q = q.strip()[:100]
    found, total = tree.find(q, PICKER_SIZE)
    return Picker(q, found, total, [a for a in chosen if a in tree.nodes])


def _sees_something(tree: AccountTree, account_ids: list[int]) -> bool:
    return any(
        tree.enabled_by(a) is not None
        for granted in account_ids
        if granted in tree.nodes
        for a in tree.subtree(granted)
    )


@bp.get("/contacts")
def contacts() -> str:
    """Every contact with their accounts, roles and invite status."""
    q = request.args.get("q", "").strip()[:100]
    status = params.choice("status", STATUSES, "all")
    size = portal().settings.portal.page_size
    with portal().store.read() as conn:
        found = contact_page(conn, q, status, _page_number(), size)
        tree = AccountTree.load(conn)
    grants, invites = found.grants, found.invites
    people = [
        {
            "c": r,
            "grants": grants[r.id],
            "status": status_of(dict(r._mapping), invites.get(r.id)),
            "portal_off": bool(grants[r.id])
            and not _sees_something(tree, [gr.account_id for gr in grants[r.id]]),
        }
        for r in found.rows
    ]
    return render_template(
        "admin/contacts.html", people=people, tree=tree, q=q, status=status,
        statuses=STATUSES, page=found.page, pages=found.pages, total=found.total,
    )  # fmt: skip


@bp.get("/contacts/<id:contact_id>")
def contacts_show(contact_id: int) -> str:
    """One contact: access, invitations, sessions, recent activity and every action."""
    now = utcnow()
    with portal().store.read() as conn:
        contact = _contact_or_404(conn, contact_id)
        tree = AccountTree.load(conn)
        history = contact_history(conn, contact_id, now)
        can_sign_in = may_sign_in(conn, contact)
        last_invite = last_invites(conn, [contact_id]).get(contact_id)
        notices = contact_notices(conn, contact_id)
        words = wording_for(conn, history.activity, tree)
    role = request.args.get("role", "billing")
    return render_template(
        "admin/contact.html", contact=contact, tree=tree, grants=history.grants,
        notices=notices,
        invites=history.invites, sessions=history.sessions, activity=history.activity,
        can_sign_in=can_sign_in, now=now, ended_by=history.ended_by, words=words,
        status=status_of(contact, last_invite), role=role if role in ROLES else "billing",
        picker=picker_for(tree, request.args.get("find", ""), []),
    )  # fmt: skip


@bp.post("/contacts/<id:contact_id>/grants/find")
def contacts_grant_find(contact_id: int) -> Response:
    """The grant form's search (works without JavaScript): show the matches."""
    return redirect(
        url_for(
            "admin.contacts_show", contact_id=contact_id,
            find=request.form.get("find", "")[:100] or None,
            role=request.form.get("role") or None, _anchor="add-access",
        )
    )  # fmt: skip


@bp.get("/contacts/<id:contact_id>/revoke/confirm")
def contacts_revoke_confirm(contact_id: int) -> Response | str:
    """Ask before revoking: what the contact loses, at once."""
    now = utcnow()
    with portal().store.read() as conn:
        contact = _contact_or_404(conn, contact_id)
        tree = AccountTree.load(conn)
        history = contact_history(conn, contact_id, now)
    if contact["revoked_at"] is not None:
        flash(f"{contact['email']}'s access has already ended.", "ok")
        return redirect(url_for("admin.contacts_show", contact_id=contact_id))
    return render_template(
        "admin/revoke.html", contact=contact, tree=tree, grants=history.grants,
        sessions=history.sessions,
    )  # fmt: skip


def _mail_invitation(conn: Connection, email: str, token: str) -> None:
    """Queue the invitation in the transaction that issued its link (sent once it
    commits: ``portal().mailer.kick()``)."""
    outbox.enqueue_link(conn, token, email, invited=True)


def _no_smtp_warning() -> None:
    if not portal().settings.smtp.host:
        flash(
            "No mail server is set up ([smtp] host), so nothing was emailed: the link "
            "was written to the server log (event=mail.not_sent).",
            "error",
        )


def _invite_form(
    errors: dict[str, str] | None = None,
    values: dict | None = None,
    status: int = 200,
    find: str = "",
) -> tuple[str, int]:
    with portal().store.read() as conn:
        tree = AccountTree.load(conn)
        if values is None:  # a fresh form, maybe from an account's or a contact's page
            chosen = params.record_id(request.args.get("account"))
            email = request.args.get("email", "")[:254]
            if (
                chosen in tree.nodes and not email
            ):  # the address its billing system gave
                email = account_email(conn, chosen)
            values = {
                "email": email,
                "accounts": [chosen] if chosen in tree.nodes else [],
            }
            find = find or request.args.get("find", "")
    return render_template(
        "admin/invite.html", tree=tree, errors=errors or {}, values=values,
        max_mb=portal().settings.portal.upload_max_mb,
        picker=picker_for(tree, find, values["accounts"]),
    ), status  # fmt: skip


@bp.get("/contacts/invite")
def contacts_invite_form() -> tuple[str, int]:
    """The invite form (one contact) and the CSV upload (many)."""
    return _invite_form()


def _typed_invite() -> dict[str, Any]:
    """The invite form as typed (accounts: the ids chosen, unreadable ones dropped)."""
    form = request.form
    chosen = [params.record_id(v) for v in form.getlist("account")]
    return {
        "email": form.get("email", "")[:254],
        "name": form.get("name", "")[:200],
        "role": form.get("role", "billing"),
        "accounts": sorted({a for a in chosen if a is not None}),
    }


@bp.post("/contacts/invite/find")
def contacts_invite_find() -> tuple[str, int]:
    """The invite form's account search (works without JavaScript): the form again, as
    typed, with the matches; nothing is sent."""
    return _invite_form(None, _typed_invite(), 200, request.form.get("find", ""))


@bp.post("/contacts/invite")
@recent_sign_in
def contacts_invite() -> Response | tuple[str, int]:
    """Give an address access to accounts with a role and email it a sign-in link."""
    form = request.form
    values: dict[str, Any] = {
        "email": form.get("email", "")[:254],
        "name": form.get("name", "")[:200],
        "role": form.get("role", "billing"),
        "accounts": [],
    }
    errors: dict[str, str] = {}
    try:
        email = normalise_email(values["email"])
    except UsageError:
        errors["email"] = "Enter an email address, like name@example.com."
    if values["role"] not in ROLES:
        errors["role"] = "Choose billing or documents."
    chosen = [params.record_id(v) for v in form.getlist("account")]
    values["accounts"] = [] if None in chosen else sorted(set(chosen))
    if not values["accounts"]:
        errors["accounts"] = "Choose at least one account."
    if errors:
        return _invite_form(errors, values, 400, form.get("find", ""))
    p = portal()
    with p.store.write(ledger=False) as conn:
        tree = AccountTree.load(conn)
        if any(a not in tree.nodes for a in values["accounts"]):
            abort(404)
        before = find_contact(conn, email)
        contact_id, token = invite(
            conn, email, values["accounts"], values["role"], actor=actor(),
            link_hours=p.settings.portal.invite_link_hours,
            name=clean_name(values["name"]), ip=client_ip(),
        )  # fmt: skip
        visible = visible_accounts(conn, contact_id)
        _mail_invitation(conn, email, token)
    p.mailer.kick()
    names = ", ".join(tree.label(a) for a in values["accounts"])
    restored = before is not None and before["revoked_at"] is not None
    flash(
        f"{'Access restored and i' if restored else 'I'}nvitation sent to {email} for "
        f"{names} ({values['role']}). The link works once, for "
        f"{p.settings.portal.invite_link_hours} hours.",
        "ok",
    )
    closed = [a for a in values["accounts"] if a not in visible]
    if closed:
        flash(
            "The portal is not on yet for "
            + ", ".join(tree.label(a) for a in closed)
            + ": they will see it once you turn it on (Accounts).",
            "error",
        )
    _no_smtp_warning()
    return redirect(url_for("admin.contacts_show", contact_id=contact_id))


@bp.post("/contacts/bulk")
@recent_sign_in
def contacts_bulk() -> tuple[str, int] | str:
    """Invite everyone in an uploaded CSV of email, name, account; report every row."""
    p = portal()
    upload = request.files.get("file")
    role = request.form.get("role", "billing")
    if upload is None or not upload.filename:
        return _invite_form({"file": "Choose a CSV file to upload."}, None, 400)
    data = upload.read()
    try:
        with p.store.write(ledger=False) as conn:
            result = bulk_invite(
                conn, data, role, actor=actor(), ip=client_ip(),
                link_hours=p.settings.portal.invite_link_hours,
            )  # fmt: skip
            for email, token in result.mails:
                _mail_invitation(conn, email, token)
    except UsageError as exc:
        return _invite_form({"file": f"That file cannot be used: {exc}."}, None, 400)
    p.mailer.kick()
    if result.mails:
        _no_smtp_warning()
    return _bulk_report(result, upload.filename)


def _bulk_report(result: BulkResult, file_name: str) -> str:
    return render_template(
        "admin/bulk_report.html", result=result, file_name=file_name,
        hours=portal().settings.portal.invite_link_hours,
    )  # fmt: skip


@bp.post("/contacts/<id:contact_id>/resend")
def contacts_resend(contact_id: int) -> Response:
    """Send a fresh invitation link to the contact's current address."""
    p = portal()
    try:
        with p.store.write(ledger=False) as conn:
            _contact_or_404(conn, contact_id)
            email, token = resend_invitation(
                conn, contact_id, actor=actor(), ip=client_ip(),
                link_hours=p.settings.portal.invite_link_hours,
            )  # fmt: skip
            _mail_invitation(conn, email, token)
    except UsageError as exc:
        flash(f"Nothing was sent: {exc}.", "error")
    else:
        p.mailer.kick()
        flash(f"A new invitation link was sent to {email}.", "ok")
        _no_smtp_warning()
    return redirect(url_for("admin.contacts_show", contact_id=contact_id))


@bp.post("/contacts/<id:contact_id>/revoke")
@recent_sign_in
def contacts_revoke(contact_id: int) -> Response:
    """End a contact's access now: every session ends, every unused link dies."""
    with portal().store.write(ledger=False) as conn:
        contact = _contact_or_404(conn, contact_id)
        revoke_access(conn, contact_id, actor=actor(), ip=client_ip())
    flash(
        f"{contact['email']} can no longer see anything: signed out everywhere, and "
        "unused links no longer work.",
        "ok",
    )
    return redirect(url_for("admin.contacts_show", contact_id=contact_id))


@bp.post("/contacts/<id:contact_id>/grants")
@recent_sign_in
def contacts_grant(contact_id: int) -> Response:
    """Give a contact one more account (with its sites), or change its role there."""
    role = request.form.get("role", "billing")
    account_id = params.record_id(request.form.get("account"))
    try:
        with portal().store.write(ledger=False) as conn:
            _contact_or_404(conn, contact_id)
            tree = AccountTree.load(conn)
            if account_id not in tree.nodes:
                raise UsageError("choose an account")
            add_grant(conn, contact_id, account_id, role, actor=actor(), ip=client_ip())
    except UsageError as exc:
        flash(f"Access was not changed: {exc}.", "error")
    else:
        flash(f"Access to {tree.label(account_id)} ({role}) added.", "ok")
    return redirect(url_for("admin.contacts_show", contact_id=contact_id))


@bp.post("/contacts/<id:contact_id>/grants/<id:account_id>/remove")
@recent_sign_in
def contacts_ungrant(contact_id: int, account_id: int) -> Response:
    """Take one account (and its sites) away from a contact, at once."""
    with portal().store.write(ledger=False) as conn:
        _contact_or_404(conn, contact_id)
        tree = AccountTree.load(conn)
        try:
            remove_grant(conn, contact_id, account_id, actor=actor(), ip=client_ip())
        except UsageError:
            abort(404)
    flash(f"Access to {tree.label(account_id)} removed.", "ok")
    return redirect(url_for("admin.contacts_show", contact_id=contact_id))


@bp.post("/contacts/<id:contact_id>/email")
@recent_sign_in
def contacts_email(contact_id: int) -> Response:
    """Change a contact's address: old links die, sessions end, the old address is told,
    the new one gets a sign-in link."""
    p = portal()
    new = request.form.get("email", "")[:254]
    token = None
    try:
        with p.store.write(ledger=False) as conn:
            _contact_or_404(conn, contact_id)
            old = change_email(conn, contact_id, new, actor=actor(), ip=client_ip())
            contact = _contact_or_404(conn, contact_id)
            if may_sign_in(conn, contact):
                token = issue_link(
                    conn, "contact", contact_id, contact["email"],
                    p.settings.portal.invite_link_hours * 60, purpose="invite",
                    ip=client_ip(),
                )  # fmt: skip
            outbox.enqueue_message(
                conn,
                email_changed_message(p.settings, old, mask_email(contact["email"])),
            )
            if token is not None:
                _mail_invitation(conn, contact["email"], token)
    except UsageError as exc:
        flash(f"The address was not changed: {exc}.", "error")
        return redirect(url_for("admin.contacts_show", contact_id=contact_id))
    except IntegrityError:  # another admin took the address a moment ago
        flash("The address was not changed: another contact already uses it.", "error")
        return redirect(url_for("admin.contacts_show", contact_id=contact_id))
    p.mailer.kick()
    flash(
        f"The address is now {contact['email']}. {old} was told and signed out; "
        + (
            "a sign-in link went to the new address."
            if token
            else "no link was sent: this contact cannot sign in (revoked, or no account "
            "is open for the portal)."
        ),
        "ok",
    )
    _no_smtp_warning()
    return redirect(url_for("admin.contacts_show", contact_id=contact_id))
