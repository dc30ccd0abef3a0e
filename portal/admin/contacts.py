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
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import Connection, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from portal import params
from portal.admin import actor, bp, recent_sign_in, step_up_due
from portal.admin.accounts import AccountTree
from portal.context import client_ip, portal
from schemas.tables import (
    Account,
    AuditEvent,
    Contact,
    Grant,
    LoginToken,
    PortalSession,
    utcnow,
)
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
from sync.access.links import issue_link, link_url
from sync.access.mail import email_changed_message, sign_in_message
from sync.errors import UsageError

C = Contact.__table__  # type: ignore[attr-defined]
G = Grant.__table__  # type: ignore[attr-defined]
A = Account.__table__  # type: ignore[attr-defined]
T = LoginToken.__table__  # type: ignore[attr-defined]
S = PortalSession.__table__  # type: ignore[attr-defined]
E = AuditEvent.__table__  # type: ignore[attr-defined]
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


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _page_number() -> int:
    return params.page(request.args.get("page"))


def _contact_or_404(conn: Connection, contact_id: int) -> dict:
    contact = contact_by_id(conn, contact_id)
    if contact is None:
        abort(404)
    return contact


def _last_invites(conn: Connection, ids: list[int]) -> dict[int, Any]:
    """The newest invitation link of each contact."""
    newest: dict[int, Any] = {}
    rows = conn.execute(
        select(T.c.principal_id, T.c.created_at, T.c.expires_at, T.c.used_at)
        .where(
            T.c.principal_kind == "contact",
            T.c.purpose == "invite",
            T.c.principal_id.in_(ids),
        )
        .order_by(T.c.created_at, T.c.id)
    )
    for r in rows:
        newest[r.principal_id] = r
    return newest


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
    stmt = select(C)
    if q:
        pattern = _like(q)
        on_account = exists(
            select(G.c.id)
            .join(A, A.c.id == G.c.account_id)
            .where(
                G.c.contact_id == C.c.id,
                or_(
                    A.c.name.ilike(pattern, escape="\\"),
                    A.c.external_key.ilike(pattern, escape="\\"),
                ),
            )
        )
        stmt = stmt.where(
            or_(
                C.c.email.ilike(pattern, escape="\\"),
                C.c.name.ilike(pattern, escape="\\"),
                on_account,
            )
        )
    if status == "revoked":
        stmt = stmt.where(C.c.revoked_at.is_not(None))
    elif status == "signed_in":
        stmt = stmt.where(C.c.revoked_at.is_(None), C.c.last_sign_in_at.is_not(None))
    elif status == "invited":
        stmt = stmt.where(C.c.revoked_at.is_(None), C.c.last_sign_in_at.is_(None))
    size = portal().settings.portal.page_size
    page = _page_number()
    with portal().store.read() as conn:
        total = conn.execute(
            select(func.count()).select_from(stmt.subquery())
        ).scalar_one()
        pages = max(1, -(-total // size))
        page = min(page, pages)
        rows = conn.execute(
            stmt.order_by(C.c.email).limit(size).offset((page - 1) * size)
        ).all()
        ids = [r.id for r in rows]
        grants: dict[int, list[Any]] = {i: [] for i in ids}
        for gr in conn.execute(
            select(G.c.contact_id, G.c.account_id, G.c.role)
            .where(G.c.contact_id.in_(ids))
            .order_by(G.c.account_id)
        ):
            grants[gr.contact_id].append(gr)
        invites = _last_invites(conn, ids)
        tree = AccountTree.load(conn)
    people = [
        {
            "c": r,
            "grants": grants[r.id],
            "status": status_of(r._mapping, invites.get(r.id)),
            "portal_off": bool(grants[r.id])
            and not _sees_something(tree, [gr.account_id for gr in grants[r.id]]),
        }
        for r in rows
    ]
    return render_template(
        "admin/contacts.html", people=people, tree=tree, q=q, status=status,
        statuses=STATUSES, page=page, pages=pages, total=total,
    )  # fmt: skip


@bp.get("/contacts/<id:contact_id>")
def contacts_show(contact_id: int) -> str:
    """One contact: access, invitations, sessions, recent activity and every action."""
    now = utcnow()
    with portal().store.read() as conn:
        contact = _contact_or_404(conn, contact_id)
        tree = AccountTree.load(conn)
        grants = conn.execute(
            select(G.c.account_id, G.c.role, G.c.created_at)
            .where(G.c.contact_id == contact_id)
            .order_by(G.c.created_at)
        ).all()
        invites = conn.execute(
            select(T.c.created_at, T.c.expires_at, T.c.used_at, T.c.purpose, T.c.email)
            .where(T.c.principal_kind == "contact", T.c.principal_id == contact_id)
            .order_by(T.c.created_at.desc(), T.c.id.desc())
            .limit(5)
        ).all()
        sessions = conn.execute(
            select(func.count()).where(
                S.c.principal_kind == "contact",
                S.c.principal_id == contact_id,
                S.c.revoked_at.is_(None),
                S.c.expires_at > now,
            )
        ).scalar_one()
        activity = conn.execute(
            select(E)
            .where(
                or_(
                    E.c.actor == f"contact:{contact_id}",
                    (E.c.record_kind == "contact") & (E.c.record_id == contact_id),
                )
            )
            .order_by(E.c.at.desc(), E.c.id.desc())
            .limit(15)
        ).all()
        can_sign_in = may_sign_in(conn, contact)
        last_invite = _last_invites(conn, [contact_id]).get(contact_id)
    return render_template(
        "admin/contact.html", contact=contact, tree=tree, grants=grants, invites=invites,
        sessions=sessions, activity=activity, can_sign_in=can_sign_in, now=now,
        status=status_of(contact, last_invite), options=tree.options(),
    )  # fmt: skip


def _mail_invitation(email: str, token: str) -> None:
    p = portal()
    url = link_url(p.settings.base_url, token)
    p.mailer.submit(sign_in_message(p.settings, email, url, invited=True))


def _no_smtp_warning() -> None:
    if not portal().settings.smtp.host:
        flash(
            "No mail server is set up ([smtp] host), so nothing was emailed: the link "
            "was written to the server log (event=mail.not_sent).",
            "error",
        )


def _invite_form(
    errors: dict[str, str] | None = None, values: dict | None = None, status: int = 200
) -> tuple[str, int]:
    with portal().store.read() as conn:
        tree = AccountTree.load(conn)
        if values is None:  # a fresh form, maybe from an account's or a contact's page
            chosen = params.record_id(request.args.get("account"))
            email = request.args.get("email", "")[:254]
            if (
                chosen in tree.nodes and not email
            ):  # the address its billing system gave
                known = conn.execute(select(A.c.email).where(A.c.id == chosen))
                email = known.scalar_one_or_none() or ""
            values = {
                "email": email,
                "accounts": [chosen] if chosen in tree.nodes else [],
            }
    return render_template(
        "admin/invite.html", options=tree.options(), errors=errors or {}, values=values,
        max_mb=portal().settings.portal.upload_max_mb,
    ), status  # fmt: skip


@bp.get("/contacts/invite")
def contacts_invite_form() -> tuple[str, int]:
    """The invite form (one contact) and the CSV upload (many)."""
    return _invite_form()


@bp.post("/contacts/invite")
@recent_sign_in
def contacts_invite() -> Response | tuple[str, int]:
    """Give an address access to accounts with a role and email it a sign-in link."""
    form = request.form
    values = {
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
        return _invite_form(errors, values, 400)
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
    _mail_invitation(email, token)
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
    except UsageError as exc:
        return _invite_form({"file": f"That file cannot be used: {exc}."}, None, 400)
    for email, token in result.mails:
        _mail_invitation(email, token)
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
    except UsageError as exc:
        flash(f"Nothing was sent: {exc}.", "error")
    else:
        _mail_invitation(email, token)
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
    except UsageError as exc:
        flash(f"The address was not changed: {exc}.", "error")
        return redirect(url_for("admin.contacts_show", contact_id=contact_id))
    except IntegrityError:  # another admin took the address a moment ago
        flash("The address was not changed: another contact already uses it.", "error")
        return redirect(url_for("admin.contacts_show", contact_id=contact_id))
    p.mailer.submit(
        email_changed_message(p.settings, old, mask_email(contact["email"]))
    )
    if token is not None:
        _mail_invitation(contact["email"], token)
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
