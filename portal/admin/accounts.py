"""Admin: pilot rollout. Accounts as a tree (parents with their sites), each with its
portal state and the buttons that change it, and adoption per account: who was invited,
who signed in, what they viewed and downloaded (counted from audit events).

Enabling a parent opens the portal to all its sites (``sync.access.grants.visible_accounts``
applies the flag of an account or any account above it), so a pilot is a handful of
parents.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import params
from portal.admin import actor, bp, recent_sign_in
from portal.admin.audit_words import wording_for
from portal.admin.queries import accounts as accounts_q
from portal.admin.queries.accounts import AccountTree, adoption
from portal.context import client_ip, portal
from sync.access import grants
from sync.errors import AccountHeld, UsageError
from sync.ledger import identity

ROOTS_PER_PAGE = 40


def _page_number() -> int:
    return params.page(request.args.get("page"))


@bp.get("/accounts")
def accounts() -> str:
    """Every account with its sites, portal state and adoption."""
    q = unicodedata.normalize("NFC", request.args.get("q", "")).strip()[:100]
    state = params.choice("state", ("all", "on", "off"), "all")
    with portal().store.read() as conn:
        tree = AccountTree.load(conn)
        stats = adoption(conn, tree)
    roots = tree.roots
    if q:
        needle = q.casefold()
        roots = [
            r
            for r in roots
            if any(
                needle in tree.nodes[a].name.casefold()
                or needle in tree.nodes[a].key.casefold()
                for a in tree.subtree(r)
            )
        ]
    if state != "all":
        roots = [
            r
            for r in roots
            if any(
                (tree.enabled_by(a) is not None) == (state == "on")
                for a in tree.subtree(r)
            )
        ]
    page = _page_number()
    pages = max(1, -(-len(roots) // ROOTS_PER_PAGE))
    page = min(page, pages)
    shown = roots[(page - 1) * ROOTS_PER_PAGE : page * ROOTS_PER_PAGE]
    rows = list(tree.walk(shown))
    enabled_count = sum(1 for r in tree.roots if tree.nodes[r].enabled)
    return render_template(
        "admin/accounts.html", tree=tree, rows=rows, stats=stats, q=q, state=state,
        page=page, pages=pages, total=len(roots), enabled_count=enabled_count,
    )  # fmt: skip


@bp.get("/accounts/<id:account_id>")
def accounts_show(account_id: int) -> str:
    """One account: its portal state, its sites, who can see it and what they did."""
    with portal().store.read() as conn:
        tree = AccountTree.load(conn)
        if account_id not in tree.nodes:
            abort(404)
        stats = adoption(conn, tree)
        family = tree.subtree(account_id)
        above = tree.ancestors(account_id)
        people = accounts_q.people_of(conn, [*family, *above])
        activity, emails = accounts_q.customer_activity(conn, family)
        words = wording_for(conn, activity, tree)
        owed = accounts_q.balances(conn, tree, account_id, datetime.now(UTC).date())
    first = portal().settings.default_currency  # the business's own currency leads
    owed.sort(key=lambda t: (t["currency"] != first, t["currency"]))
    return render_template(
        "admin/account.html", tree=tree, account=tree.nodes[account_id], stats=stats,
        rows=list(tree.walk([account_id])), people=people, activity=activity,
        emails=emails, above=above, owed=owed, words=words,
        held_reason=identity.held_reason(tree.nodes[account_id].key,
                                         list(tree.nodes[account_id].held)),
    )  # fmt: skip


@bp.post("/accounts/<id:account_id>/portal")
@recent_sign_in
def accounts_portal(account_id: int) -> Response:
    """Turn the portal on or off for an account (and, through it, its sites)."""
    wanted = request.form.get("enabled")
    if wanted not in ("1", "0"):
        abort(400, description="Choose whether to turn the portal on or off.")
    enabled = wanted == "1"
    with portal().store.write(ledger=False) as conn:
        tree = AccountTree.load(conn)
        if account_id not in tree.nodes:
            abort(404)
        try:
            grants.set_portal_enabled(
                conn, account_id, enabled, actor=actor(), ip=client_ip()
            )
        except AccountHeld as exc:
            flash(str(exc), "error")
            return redirect(url_for("admin.accounts_show", account_id=account_id))
    name = tree.label(account_id)
    sites = len(tree.subtree(account_id)) - 1
    if enabled:
        also = f" and its {sites} site{'s' if sites != 1 else ''}" if sites else ""
        flash(f"The portal is on for {name}{also}.", "ok")
    else:
        through = next(
            (a for a in tree.ancestors(account_id) if tree.nodes[a].enabled), None
        )
        if through is not None:
            flash(
                f"{name}'s own switch is off, but it stays on through "
                f"{tree.label(through)}.",
                "ok",
            )
        else:
            flash(
                f"The portal is off for {name}: its contacts see nothing of it now.",
                "ok",
            )
    if request.form.get("back") == "list":
        return redirect(
            url_for(
                "admin.accounts",
                q=request.form.get("q") or None,
                state=request.form.get("state") or None,
                page=request.form.get("page") or None,
            )
        )
    return redirect(url_for("admin.accounts_show", account_id=account_id))


@bp.post("/accounts/<id:account_id>/confirm")
@recent_sign_in
def accounts_confirm(account_id: int) -> Response:
    """Confirm that the names a held account's customer id carried are one customer."""
    with portal().store.write(ledger=False) as conn:
        tree = AccountTree.load(conn)
        if account_id not in tree.nodes:
            abort(404)
        try:
            names = identity.confirm(conn, account_id, actor=actor(), ip=client_ip())
        except UsageError as exc:
            flash(str(exc), "error")
        else:
            flash(
                f"Confirmed: {identity.shown_names(names)} are one customer. The "
                "portal can be turned on for this account.",
                "ok",
            )
    return redirect(url_for("admin.accounts_show", account_id=account_id))
