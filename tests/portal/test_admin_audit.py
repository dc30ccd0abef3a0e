"""Admin: the audit log (filters, pages, formula-safe CSV) and preview as customer (the
contact's own scope, never a customer event, no customer forms, tied to the admin
session)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import func, insert, select, update

from schemas.tables import (
    ACCOUNTS,
    AUDIT_EVENTS,
    PAYMENT_CLAIMS,
    PORTAL_SESSIONS,
    utcnow,
)
from sync.access import contacts, grants, links
from tests.portal.conftest import FORMULA, csrf_from, sign_in
from tests.portal.test_admin import admin_sign_in, page, post
from tests.portal.test_admin_contacts import admin_client

E = AUDIT_EVENTS


def shown(html: str) -> list[tuple[str, str]]:
    """(who, action) of every row of the audit table."""
    return [
        (re.sub(r"<[^>]+>", "", who).strip(), action)
        for who, action in re.findall(
            r'data-label="Who" class="break">(.*?)</td>\s*<td data-label="Action">([^<]+)</td>',
            html,
            re.S,
        )
    ]


def activity(app, world) -> None:
    parent, birch = app.test_client(), app.test_client()
    sign_in(app, parent, "a_parent")
    sign_in(app, birch, "b_user")
    assert parent.get(f"/invoices/{world.invoices['A1-200']}").status_code == 200
    assert parent.get(f"/invoices/{world.invoices['A-100']}/pdf").status_code == 200
    assert birch.get(f"/invoices/{world.invoices['B-400']}").status_code == 200


def test_filters_by_account_person_record_action_and_dates(app, world):
    office = admin_client(app)
    activity(app, world)
    everything = shown(page(office, "/admin/audit"))
    assert ("b_user@example.com", "Viewed an invoice") in everything
    assert ("admin office@harbor.example", "Signed in") in everything

    alder = shown(page(office, "/admin/audit?account=Alder+Property+Group"))
    assert sorted(alder) == [
        ("a_parent@example.com", "Downloaded an invoice PDF"),
        ("a_parent@example.com", "Viewed an invoice"),
    ]
    only_parent = shown(page(office, "/admin/audit?account=A&sites=0"))
    assert only_parent == [("a_parent@example.com", "Downloaded an invoice PDF")]
    birch = shown(page(office, "/admin/audit?person=B_USER@example.com"))
    assert set(birch) == {
        ("b_user@example.com", "Viewed an invoice"),
        ("b_user@example.com", "Signed in"),
    }
    record = shown(
        page(
            office,
            f"/admin/audit?record_kind=invoice&record_id={world.invoices['A1-200']}",
        )
    )
    assert record == [("a_parent@example.com", "Viewed an invoice")]
    views = shown(page(office, "/admin/audit?action=view_invoice"))
    assert sorted(views) == [
        ("a_parent@example.com", "Viewed an invoice"),
        ("b_user@example.com", "Viewed an invoice"),
    ]
    today = utcnow().date()
    assert shown(page(office, f"/admin/audit?from={today + timedelta(days=1)}")) == []
    assert shown(page(office, f"/admin/audit?to={today - timedelta(days=1)}")) == []
    assert len(shown(page(office, f"/admin/audit?from={today}&to={today}"))) == len(
        everything
    )
    unknown = page(office, "/admin/audit?person=nobody@example.com")
    assert "No contact or admin has the address" in unknown and shown(unknown) == []
    assert shown(page(office, "/admin/audit?account=Nope")) == []
    linked = shown(page(office, f"/admin/audit?contact_id={world.contacts['b_user']}"))
    assert set(linked) == set(birch)


def test_the_log_pages_fifty_events_at_a_time(app, world):
    office = admin_client(app)
    store = app.extensions["billfold"].store
    start = utcnow() - timedelta(days=3)
    with store.write(ledger=False) as conn:
        conn.execute(
            insert(E),
            [
                {"at": start + timedelta(minutes=i), "actor": "cli", "action": "bulk_test",
                 "detail": f'{{"n": {i}}}'}
                for i in range(120)
            ],
        )  # fmt: skip
    first = page(office, "/admin/audit?action=bulk_test")
    assert "120 events" in first and "Page 1 of 3" in first
    assert len(shown(first)) == 50 and "n: 119" in first and "n: 69" not in first
    last = page(office, "/admin/audit?action=bulk_test&page=3")
    assert len(shown(last)) == 20 and "n: 0" in last
    assert 'href="/admin/audit?page=2&amp;action=bulk_test"' in last


def test_csv_export_uses_the_filters_and_neutralises_formulas(app, world):
    office = admin_client(app)
    store = app.extensions["billfold"].store
    A = ACCOUNTS
    with store.write(ledger=False) as conn:
        conn.execute(
            update(A).where(A.c.id == world.accounts["B"]).values(name=FORMULA)
        )
        hostile = contacts.ensure_contact(conn, "=cmd@example.com")
        grants.grant_access(conn, hostile, world.accounts["B"], "billing")
    sign_in(app, app.test_client(), "b_user")
    customer = app.test_client()
    with store.write(ledger=False) as conn:
        token = links.issue_link(conn, "contact", hostile, "=cmd@example.com", 15)
    confirm = customer.get(f"/sign-in/{token}")
    customer.post(
        f"/sign-in/{token}",
        data={"csrf_token": csrf_from(confirm.get_data(as_text=True))},
    )
    customer.get(f"/invoices/{world.invoices['B-400']}")

    response = office.get(f"/admin/audit.csv?account_id={world.accounts['B']}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [(r["person"], r["action"]) for r in rows] == [
        ("'=cmd@example.com", "view_invoice")
    ]
    assert rows[0]["account"] == "'" + FORMULA
    assert rows[0]["record_kind"] == "invoice"
    assert rows[0]["record_id"] == str(world.invoices["B-400"])
    everyone = list(
        csv.DictReader(
            io.StringIO(office.get("/admin/audit.csv").data.decode("utf-8-sig"))
        )
    )
    assert {r["action"] for r in everyone} >= {"sign_in", "view_invoice"}
    with store.read() as conn:
        exports = conn.execute(select(E).where(E.c.action == "export_audit_csv")).all()
    assert (
        len(exports) == 2
        and f'"account_id": {world.accounts["B"]}' in exports[0].detail
    )
    assert exports[0].actor == "admin:office@harbor.example"


def customer_events(app) -> int:
    with app.extensions["billfold"].store.read() as conn:
        return conn.execute(
            select(func.count()).where(E.c.actor.like("contact:%"))
        ).scalar_one()


def test_preview_shows_the_contacts_own_pages_and_records_no_customer_event(
    app,
    world,
):
    office = admin_client(app)
    a_parent = world.contacts["a_parent"]
    before = customer_events(app)
    response = post(office, f"/admin/contacts/{a_parent}/preview")
    assert response.headers["Location"] == "/"
    home = page(office, "/")
    assert "Preview:" in home and "a_parent@example.com" in home
    assert "Back to admin" in home and "Sign out" not in home
    invoices = page(office, "/invoices")
    assert "A-100" in invoices and "A1-200" in invoices and "B-400" not in invoices
    assert office.get(f"/invoices/{world.invoices['A1-200']}").status_code == 200
    assert office.get(f"/invoices/{world.invoices['A-100']}/pdf").status_code == 200
    assert (
        office.get(f"/documents/{world.documents['jobsheet-A1.pdf']}").status_code
        == 200
    )
    assert office.get(f"/invoices/{world.invoices['B-400']}").status_code == 404
    assert (
        office.get(f"/documents/{world.documents['contract-B.pdf']}").status_code == 404
    )
    assert customer_events(app) == before
    with app.extensions["billfold"].store.read() as conn:
        admin_events = conn.execute(
            select(E.c.action, E.c.record_kind, E.c.record_id, E.c.detail)
            .where(
                E.c.actor == "admin:office@harbor.example", E.c.action.like("preview%")
            )
            .order_by(E.c.id)
        ).all()
    assert [(a, k, i) for a, k, i, _ in admin_events[:2]] == [
        ("preview", "contact", a_parent),
        ("preview_view", "invoice", world.invoices["A1-200"]),
    ]
    assert f'"contact": {a_parent}' in admin_events[1].detail
    assert '"viewed": "view_invoice"' in admin_events[1].detail
    assert "download_invoice_pdf" in admin_events[2].detail

    # the admin pages are still the admin's, and leaving goes back to the contact
    assert "Preview:" not in page(office, "/admin/contacts")
    back = post(office, "/admin/preview/end")
    assert back.headers["Location"] == f"/admin/contacts/{a_parent}"
    assert office.get("/").headers["Location"] == "/sign-in"


def test_a_preview_cannot_submit_customer_forms_or_sign_the_contact_out(
    app,
    world,
):
    office = admin_client(app)
    contact = app.test_client()
    sign_in(app, contact, "a_parent")
    post(office, f"/admin/contacts/{world.contacts['a_parent']}/preview")
    detail = page(office, f"/invoices/{world.invoices['A-100']}")
    token = csrf_from(detail)
    claim = office.post(
        f"/invoices/{world.invoices['A-100']}/paid",
        data={"csrf_token": token, "amount": "100.00", "paid_on": "2025-06-01"},
    )
    assert claim.status_code == 403 and "This is a preview" in claim.get_data(
        as_text=True
    )
    zipped = office.post(
        "/invoices/download",
        data={"csrf_token": token, "invoice": world.invoices["A-100"]},
    )
    assert zipped.status_code == 403
    with app.extensions["billfold"].store.read() as conn:
        assert (
            conn.execute(select(func.count()).select_from(PAYMENT_CLAIMS)).scalar_one()
            == 0
        )
    # signing out from a preview ends the admin's session, never the contact's
    office.post("/sign-out", data={"csrf_token": token})
    assert office.get("/admin/").headers["Location"] == "/admin/sign-in"
    assert office.get("/").headers["Location"] == "/sign-in"
    assert contact.get("/invoices").status_code == 200


def test_a_preview_ends_with_the_admin_session(app, world):
    office = admin_client(app)
    post(office, f"/admin/contacts/{world.contacts['a_parent']}/preview")
    assert office.get("/").status_code == 200
    S = PORTAL_SESSIONS
    with app.extensions["billfold"].store.write(ledger=False) as conn:
        conn.execute(update(S).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert office.get("/").headers["Location"] == "/sign-in"
    # a new admin session in the same browser does not pick the old preview up
    admin_sign_in(app, office)
    assert office.get("/").headers["Location"] == "/sign-in"


def test_the_account_switcher_works_in_a_preview_without_touching_the_contact(
    app,
    world,
):
    office = admin_client(app)
    store = app.extensions["billfold"].store
    b_user = world.contacts["b_user"]
    with store.write(ledger=False) as conn:
        grants.grant_access(conn, b_user, world.accounts["A:Elm Court"], "billing")
    contact = app.test_client()
    sign_in(app, contact, "b_user")
    post(office, f"/admin/contacts/{b_user}/preview")
    home = page(office, "/")
    assert 'id="account-switch"' in home
    office.post(
        "/account",
        data={
            "csrf_token": csrf_from(home),
            "account": str(world.accounts["B"]),
            "next": "/invoices",
        },
    )
    narrowed = page(office, "/invoices")
    assert "B-400" in narrowed and "A1-200" not in narrowed
    both = contact.get("/invoices").get_data(as_text=True)
    assert "B-400" in both and "A1-200" in both


def test_nothing_to_preview_for_a_revoked_contact(app, world):
    office = admin_client(app)
    revoked = world.contacts["revoked_user"]
    response = post(office, f"/admin/contacts/{revoked}/preview")
    assert "There is nothing to preview" in page(office, response.headers["Location"])
    assert office.get("/").headers["Location"] == "/sign-in"
    assert post(office, "/admin/contacts/99999/preview").status_code == 404
