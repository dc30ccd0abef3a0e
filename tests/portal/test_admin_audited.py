"""AUD-01 (SECURITY.md, "admin change without audit"), proved from ``app.url_map``.

For every admin POST route, one successful request by a signed-in admin appends at
least one audit event (``audit_event``, written by ``sync.store.audit.record``) whose actor
is that admin and whose action is the one the route stands for.

``ROUTES`` says, per endpoint, how to set a successful request up (the record it acts
on, the form) and which action(s) it must record. A completeness test compares its keys
with the admin POST endpoints in the URL map: a route added without an entry fails,
saying where to add it, so no admin action ships unaudited by omission.

Each case counts the admin's events of each expected action before and after the
request (never relying on ids), and checks that the request went through (200 or a
redirect that is not a step-up). The admin is named ``admin:<email>``, the way every
admin event (sign-in included) names its actor.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from schemas.tables import (
    ACCOUNTS,
    AUDIT_EVENTS,
    CONFLICTS,
    DOCUMENTS,
    INVOICES,
)
from sync.access import contacts, links
from sync.engine.intake import take_in
from sync.engine.pipeline import import_file
from sync.ledger.marks import claim_payment, mark_paid
from sync.pulls.connections import ensure_row
from tests.helpers import header_without_lines, invoice_row, write_csv
from tests.portal.conftest import World, csrf_from
from tests.portal.test_admin import admin_sign_in

A = ACCOUNTS
E = AUDIT_EVENTS
K = CONFLICTS
I = INVOICES  # noqa: E741
ADMIN_EMAIL = "office@harbor.example"
STEP_UP = "/admin/sign-in?step_up=1"

Request = tuple[str, dict[str, Any]]  # (path, form)


@dataclass
class Ctx:
    """A signed-in admin's browser over the standard fixture."""

    app: Flask
    world: World
    office: FlaskClient
    csrf: str
    admin_id: int
    tmp_path: Path

    @property
    def store(self) -> Any:
        return self.app.extensions["billfold"].store

    @property
    def settings(self) -> Any:
        return self.app.extensions["billfold"].settings

    @property
    def actor(self) -> str:
        """How the audit log names this admin."""
        return f"admin:{ADMIN_EMAIL}"


@dataclass(frozen=True)
class Case:
    """One successful use of a route: ``prepare`` sets up what it needs and returns the
    request to make; each of ``actions`` must gain an event by the admin."""

    prepare: Callable[[Ctx], Request]
    actions: tuple[str, ...]
    label: str = ""


# --- the admin's browser --------------------------------------------------------------


def signed_in(app: Flask, world: World, tmp_path: Path) -> Ctx:
    """A fresh admin sign-in (so the step-up routes go through)."""
    office = app.test_client()
    admin_sign_in(app, office, ADMIN_EMAIL)
    csrf = csrf_from(office.get("/admin/").get_data(as_text=True))
    with app.extensions["billfold"].store.read() as conn:
        admin_id = contacts.find_admin(conn, ADMIN_EMAIL)["id"]
    return Ctx(app, world, office, csrf, admin_id, tmp_path)


def counts(ctx: Ctx, actions: tuple[str, ...]) -> dict[str, int]:
    """How many events of each action this admin has in the audit log."""
    with ctx.store.read() as conn:
        return {
            action: conn.execute(
                select(func.count()).where(E.c.action == action, E.c.actor == ctx.actor)
            ).scalar_one()
            for action in actions
        }


def submit(ctx: Ctx, path: str, form: dict[str, Any]) -> Any:
    """POST the form as the admin's browser would, with its CSRF token."""
    if path.startswith("/admin/sign-in/"):  # a link is used from its confirm page
        assert ctx.office.get(path).status_code == 200, f"{path} is not a live link"
    return ctx.office.post(path, data={"csrf_token": ctx.csrf, **form})


# --- records the requests act on ------------------------------------------------------


def _import(ctx: Ctx, name: str, row: list[Any], **kw: Any) -> int:
    path = write_csv(ctx.tmp_path / name, header_without_lines(), [row])
    result = import_file(ctx.store, ctx.settings, path, source="books", **kw)
    assert result.batch_id is not None, result.reason
    return result.batch_id


def staged_batch(ctx: Ctx) -> int:
    """A batch waiting for review, as a source with ``review = true`` leaves it."""
    row = invoice_row("S-1", "Staged Co", "10.00")
    return _import(ctx, "staged.csv", row, review=True)


def active_mark(ctx: Ctx) -> int:
    """An office's paid mark ($40.00) on A-100."""
    with ctx.store.write() as conn:
        return mark_paid(
            conn, ctx.world.invoices["A-100"], paid_on=date(2025, 6, 1),
            actor=ctx.actor, amount_minor=4000,
        )  # fmt: skip


def open_conflict(ctx: Ctx) -> int:
    """A mark the billing system then contradicts (as in test_admin's conflict test)."""
    half = {"balance_due": "50.00", "amount_paid": "50.00"}
    first = invoice_row("K1", "Konflikt", "100.00", **half, updated_at="2025-06-01")
    _import(ctx, "k1.csv", first)
    with ctx.store.read() as conn:
        invoice_id = conn.execute(select(I.c.id).where(I.c.number == "K1")).scalar_one()
    with ctx.store.write() as conn:
        mark_paid(conn, invoice_id, paid_on=date(2025, 6, 2), actor=ctx.actor)
    none = {"balance_due": "100.00", "amount_paid": "0.00"}
    later = invoice_row("K1", "Konflikt", "100.00", **none, updated_at="2025-06-10")
    _import(ctx, "k2.csv", later)
    with ctx.store.read() as conn:
        return conn.execute(
            select(K.c.id).where(
                K.c.invoice_id == invoice_id, K.c.resolved_at.is_(None)
            )
        ).scalar_one()


def pending_claim(ctx: Ctx) -> int:
    """a_parent's "I've paid" ($100.00) on A-100, waiting for the office."""
    with ctx.store.write() as conn:
        return claim_payment(
            conn, ctx.world.invoices["A-100"], ctx.world.contacts["a_parent"],
            amount_minor=10000, paid_on=date(2025, 6, 1), reference="TX-77", note=None,
        )  # fmt: skip


# --- one request per case -------------------------------------------------------------


def portal_on(ctx: Ctx) -> Request:
    return f"/admin/accounts/{ctx.world.accounts['D']}/portal", {"enabled": "1"}


def portal_off(ctx: Ctx) -> Request:
    return f"/admin/accounts/{ctx.world.accounts['B']}/portal", {"enabled": "0"}


def confirm_names(ctx: Ctx) -> Request:
    """D's customer id carried a second name, so D waits for a confirmation."""
    account = ctx.world.accounts["D"]
    with ctx.store.write(ledger=False) as conn:
        conn.execute(
            A.update()
            .where(A.c.id == account)
            .values(names_to_confirm='["Dogwood Disabled", "Someone Else"]')
        )
    return f"/admin/accounts/{account}/confirm", {}


def invite(ctx: Ctx) -> Request:
    account = str(ctx.world.accounts["A"])
    form = {"email": "new@example.com", "name": "New", "role": "billing"}
    return "/admin/contacts/invite", {**form, "account": account}


def bulk_invite(ctx: Ctx) -> Request:
    data = b"Email,Name,Account\nbulk@example.com,Bulk,A\n"
    return "/admin/contacts/bulk", {"file": (io.BytesIO(data), "pilot.csv")}


def resend(ctx: Ctx) -> Request:
    return f"/admin/contacts/{ctx.world.contacts['b_user']}/resend", {}


def revoke(ctx: Ctx) -> Request:
    return f"/admin/contacts/{ctx.world.contacts['b_user']}/revoke", {}


def grant(ctx: Ctx) -> Request:
    form = {"account": str(ctx.world.accounts["A"]), "role": "documents"}
    return f"/admin/contacts/{ctx.world.contacts['b_user']}/grants", form


def ungrant(ctx: Ctx) -> Request:
    contact, account = ctx.world.contacts["b_user"], ctx.world.accounts["B"]
    return f"/admin/contacts/{contact}/grants/{account}/remove", {}


def change_email(ctx: Ctx) -> Request:
    form = {"email": "b-new@example.com"}
    return f"/admin/contacts/{ctx.world.contacts['b_user']}/email", form


def upload(ctx: Ctx) -> Request:
    row = invoice_row("U-1", "Upload Co", "12.50")
    data = write_csv(
        ctx.tmp_path / "up.csv", header_without_lines(), [row]
    ).read_bytes()
    form = {"export": (io.BytesIO(data), "up.csv"), "source": "upload"}
    return "/admin/imports/upload", form


def upload_into(ctx: Ctx) -> Request:
    row = invoice_row("U-2", "Upload Co", "12.50")
    path = write_csv(ctx.tmp_path / "up2.csv", header_without_lines(), [row])
    kept = take_in(path, ctx.settings.data_dir)  # as an upload that asked for a source
    form = {"sha256": kept.sha256, "name": "up2.csv", "source": "upload"}
    return "/admin/imports/upload/source", form


def link_document(ctx: Ctx) -> Request:
    scan = ctx.tmp_path / "scan-0001.pdf"  # no record has this number: it waits
    scan.write_bytes(b"%PDF-1.4\n% a scan\n%%EOF\n")
    result = import_file(ctx.store, ctx.settings, scan, source="scans")
    assert result.status == "applied", result.reason
    with ctx.store.read() as conn:
        document = conn.execute(
            select(DOCUMENTS.c.id).where(DOCUMENTS.c.batch_id == result.batch_id)
        ).scalar_one()
    return f"/admin/documents/{document}/link", {"account": "A", "record": "A-100"}


def publish(ctx: Ctx) -> Request:
    return f"/admin/imports/{staged_batch(ctx)}/publish", {}


def discard(ctx: Ctx) -> Request:
    return f"/admin/imports/{staged_batch(ctx)}/discard", {}


def mark(ctx: Ctx) -> Request:
    # A partly-paid mark is recorded when the preview (nothing settled yet) is confirmed.
    form = {"how": "part", "amount": "40.00", "paid_on": "2025-06-01"}
    form |= {"step": "confirm", "settled_was": "0"}
    return f"/admin/invoices/{ctx.world.invoices['A-100']}/mark", form


def undo(ctx: Ctx) -> Request:
    return f"/admin/marks/{active_mark(ctx)}/undo", {}


def bulk_marks(ctx: Ctx) -> Request:
    # The confirmation of checked lines (line 1 was checked with nothing settled).
    form = {"lines": "A-100,40.00,2025-06-01,cheque,991\n", "step": "confirm"}
    return "/admin/marks/bulk", form | {"basis-1": "0"}


def resolve(ctx: Ctx) -> Request:
    return f"/admin/conflicts/{open_conflict(ctx)}/resolve", {"action": "keep_mark"}


def confirm_claim(ctx: Ctx) -> Request:
    return f"/admin/claims/{pending_claim(ctx)}/confirm", {}


def reject_claim(ctx: Ctx) -> Request:
    return f"/admin/claims/{pending_claim(ctx)}/reject", {}


def preview_start(ctx: Ctx) -> Request:
    return f"/admin/contacts/{ctx.world.contacts['a_parent']}/preview", {}


def preview_end(ctx: Ctx) -> Request:
    started = submit(ctx, *preview_start(ctx))
    assert started.headers["Location"] == "/", "the preview did not start"
    return "/admin/preview/end", {}


def sign_in_link(ctx: Ctx) -> Request:
    return "/admin/sign-in", {"email": ADMIN_EMAIL}  # a known admin: it is audited


def use_link(ctx: Ctx) -> Request:
    with ctx.store.write(ledger=False) as conn:
        token = links.issue_link(conn, "admin", ctx.admin_id, ADMIN_EMAIL, 15)
    return f"/admin/sign-in/{token}", {}


def notices_on(ctx: Ctx) -> Request:
    contact, account = ctx.world.contacts["a_parent"], ctx.world.accounts["A"]
    return f"/admin/contacts/{contact}/notices", {"notice": f"{account}:statement"}


def notices_off(ctx: Ctx) -> Request:
    from sync.access.notices import set_notice

    contact, account = ctx.world.contacts["a_parent"], ctx.world.accounts["A"]
    with ctx.store.write(ledger=False) as conn:
        set_notice(conn, contact, account, "digest", True, actor="test")
    return f"/admin/contacts/{contact}/notices", {}


def api_connection(ctx: Ctx) -> str:
    """A stored Xero connection (its row; the source need not be configured)."""
    ensure_row(ctx.store, "xero-api", "xero", None)
    return "/admin/connections/xero-api"


def reconnect(ctx: Ctx) -> Request:
    return f"{api_connection(ctx)}/reconnect", {}


def disconnect(ctx: Ctx) -> Request:
    return f"{api_connection(ctx)}/disconnect", {}


def pull_now(ctx: Ctx) -> Request:
    return f"{api_connection(ctx)}/pull", {}


ROUTES: dict[str, tuple[Case, ...]] = {
    "admin.accounts_portal": (
        Case(portal_on, ("portal_enabled",), "on"),
        Case(portal_off, ("portal_disabled",), "off"),
    ),
    "admin.accounts_confirm": (Case(confirm_names, ("account_confirmed",)),),
    "admin.contacts_invite": (Case(invite, ("invite",)),),
    "admin.contacts_bulk": (Case(bulk_invite, ("bulk_invite", "invite")),),
    "admin.contacts_resend": (Case(resend, ("resend_invite",)),),
    "admin.contacts_revoke": (Case(revoke, ("revoke",)),),
    "admin.contacts_grant": (Case(grant, ("grant_added",)),),
    "admin.contacts_ungrant": (Case(ungrant, ("grant_removed",)),),
    "admin.contacts_email": (Case(change_email, ("change_email",)),),
    "admin.contact_notices_save": (
        Case(notices_on, ("notice_on",), "on"),
        Case(notices_off, ("notice_off",), "off"),
    ),
    "admin.upload": (Case(upload, ("upload_import",)),),
    "admin.upload_into": (Case(upload_into, ("upload_import",)),),
    "admin.publish": (Case(publish, ("publish_import",)),),
    "admin.discard_batch": (Case(discard, ("discard_import",)),),
    "admin.mark": (Case(mark, ("mark_paid",)),),
    "admin.undo": (Case(undo, ("undo_mark",)),),
    "admin.bulk_marks": (Case(bulk_marks, ("mark_paid",)),),
    "admin.resolve": (Case(resolve, ("resolve_conflict",)),),
    "admin.documents_link": (Case(link_document, ("link_document",)),),
    "admin.decide_claim": (
        Case(confirm_claim, ("confirm_claim", "mark_paid"), "confirm"),
        Case(reject_claim, ("reject_claim",), "reject"),
    ),
    "admin.preview_start": (Case(preview_start, ("preview",)),),
    "admin.preview_end": (Case(preview_end, ("preview_end",)),),
    "admin.sign_in": (Case(sign_in_link, ("sign_in_link_sent",)),),
    "admin.use_link": (Case(use_link, ("sign_in",)),),
    "admin.connections_reconnect": (Case(reconnect, ("connection_reconnected",)),),
    "admin.connections_disconnect": (Case(disconnect, ("connection_disconnected",)),),
    "admin.connections_pull": (Case(pull_now, ("pull_asked",)),),
}

# POSTs that change nothing: an account picker's search shows its form again with the
# matches (a POST, so what was typed and the CSRF token stay out of the URL).
# test_a_search_post_changes_nothing proves each writes no event.
SEARCHES = {
    "admin.contacts_invite_find": (
        "/admin/contacts/invite/find", {"email": "x@example.com", "find": "alder"},
    ),
    "admin.contacts_grant_find": ("/admin/contacts/{b_user}/grants/find", {"find": "a"}),
}  # fmt: skip

CASES = [
    pytest.param(
        endpoint, case, id=f"{endpoint}-{case.label}" if case.label else endpoint
    )
    for endpoint, cases in ROUTES.items()
    for case in cases
]


# --- the tests ------------------------------------------------------------------------


def admin_post_endpoints(app: Flask) -> set[str]:
    """Every admin endpoint that accepts a POST, from the URL map."""
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.") and "POST" in (rule.methods or ())
    }


def test_every_admin_post_route_has_an_audit_case(app):
    routes = admin_post_endpoints(app)
    missing = sorted(routes - ROUTES.keys() - SEARCHES.keys())
    assert not missing, (
        f"admin POST route(s) {missing} have no entry in ROUTES ({__file__}): add one "
        "saying how to use the route and which sync.audit.record action(s) it writes "
        "(SECURITY.md AUD-01: every admin change is an audit event)"
    )
    gone = sorted((ROUTES.keys() | SEARCHES.keys()) - routes)
    assert not gone, f"ROUTES names endpoints the app no longer has: {gone}"


@pytest.mark.parametrize(("endpoint", "case"), CASES)
def test_an_admin_post_route_records_its_audit_event(
    app, world, tmp_path, endpoint, case
):
    ctx = signed_in(app, world, tmp_path)
    path, form = case.prepare(ctx)
    routed, _ = app.url_map.bind("localhost").match(path, method="POST")
    assert routed == endpoint, f"the case for {endpoint} posts to {path} ({routed})"
    before = counts(ctx, case.actions)
    response = submit(ctx, path, form)
    assert response.status_code in (200, 302), (path, response.status_code)
    # Sign-in links are issued off the request path: wait for them.
    app.extensions["billfold"].mailer.flush()
    assert response.headers.get("Location") != STEP_UP, f"{path} asked for a step-up"
    after = counts(ctx, case.actions)
    unrecorded = [a for a in case.actions if after[a] <= before[a]]
    assert not unrecorded, (
        f"POST {path} ({endpoint}) went through but recorded no {unrecorded} event "
        f"by {ctx.actor} (before {before}, after {after})"
    )


@pytest.mark.parametrize("endpoint", sorted(SEARCHES))
def test_a_search_post_changes_nothing(app, world, tmp_path, endpoint):
    ctx = signed_in(app, world, tmp_path)
    path, form = SEARCHES[endpoint]
    path = path.format(b_user=world.contacts["b_user"])
    routed, _ = app.url_map.bind("localhost").match(path, method="POST")
    assert routed == endpoint
    with ctx.store.read() as conn:
        before = conn.execute(select(func.count()).select_from(AUDIT_EVENTS)).scalar()
    response = submit(ctx, path, form)
    assert response.status_code in (200, 302), (path, response.status_code)
    with ctx.store.read() as conn:
        after = conn.execute(select(func.count()).select_from(AUDIT_EVENTS)).scalar()
    assert after == before
