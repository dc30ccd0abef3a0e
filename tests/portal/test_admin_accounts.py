"""Admin: pilot rollout. The account tree with portal states, turning the portal on and
off (a parent covers its sites, at once), and adoption counted from audit events."""

from __future__ import annotations

import re

from sqlalchemy import select

from schemas.tables import AUDIT_EVENTS
from tests.portal.conftest import sign_in
from tests.portal.test_admin import page, post
from tests.portal.test_admin_contacts import admin_client


def switch(office, account_id: int, on: bool, **extra):
    return post(
        office,
        f"/admin/accounts/{account_id}/portal",
        {"enabled": "1" if on else "0", **extra},
    )


def row_of(html: str, name: str) -> str:
    match = re.search(
        r"<tr[^>]*>(?:(?!</tr>).)*>" + re.escape(name) + r"</a>.*?</tr>", html, re.S
    )
    assert match, name
    return match.group(0)


def test_the_tree_lists_sites_under_their_parent_with_portal_state(app, world):
    office = admin_client(app)
    html = page(office, "/admin/accounts")
    names = re.findall(r'<a href="/admin/accounts/\d+">([^<]+)</a>', html)
    alder = names.index("Alder Property Group")
    assert names[alder + 1 : alder + 3] == ["Elm Court", "Oak Plaza"]
    assert "depth-1" in row_of(html, "Elm Court")
    assert 'On</span> <span class="hint">through Alder Property Group' in row_of(
        html, "Elm Court"
    )
    assert "Turn off" in row_of(html, "Alder Property Group")
    assert "Turn on" in row_of(html, "Dogwood Disabled")
    # a site open through its parent has no switch of its own to flip
    assert "<form" not in row_of(html, "Oak Plaza")
    off = page(office, "/admin/accounts?state=off")
    assert "Dogwood Disabled" in off and "Birch Dental" not in off
    assert "Elm Court" in page(office, "/admin/accounts?q=elm")


def test_turning_off_a_parent_hides_its_sites_from_their_contacts_at_once(
    app,
    world,
):
    office = admin_client(app)
    site_contact, parent_contact = app.test_client(), app.test_client()
    sign_in(app, site_contact, "a1_only")
    sign_in(app, parent_contact, "a_parent")
    elm_invoice = f"/invoices/{world.invoices['A1-200']}"
    assert site_contact.get(elm_invoice).status_code == 200
    assert parent_contact.get(elm_invoice).status_code == 200

    response = switch(office, world.accounts["A"], False)
    assert "The portal is off for Alder Property Group" in page(
        office, response.headers["Location"]
    )
    assert site_contact.get(elm_invoice).status_code in (302, 404)
    assert "A1-200" not in site_contact.get("/").get_data(as_text=True)
    assert parent_contact.get(f"/invoices/{world.invoices['A-100']}").status_code in (
        302,
        404,
    )
    listing = page(office, "/admin/accounts")
    assert "Off" in row_of(listing, "Elm Court") and "Turn on" in row_of(
        listing, "Elm Court"
    )

    # one site on its own: its contacts see that site, not the parent
    switch(office, world.accounts["A:Elm Court"], True)
    assert site_contact.get(elm_invoice).status_code == 200
    assert parent_contact.get(elm_invoice).status_code == 200
    assert parent_contact.get(f"/invoices/{world.invoices['A-100']}").status_code == 404

    switch(office, world.accounts["A"], True)
    assert parent_contact.get(f"/invoices/{world.invoices['A-100']}").status_code == 200
    E = AUDIT_EVENTS
    with app.extensions["billfold"].store.read() as conn:
        logged = conn.execute(
            select(E.c.action, E.c.account_id)
            .where(E.c.action.like("portal_%"))
            .order_by(E.c.id)
        ).all()
    assert [tuple(r) for r in logged] == [
        ("portal_disabled", world.accounts["A"]),
        ("portal_enabled", world.accounts["A:Elm Court"]),
        ("portal_enabled", world.accounts["A"]),
    ]


def test_turning_on_an_account_lets_its_contacts_sign_in(app, world):
    office = admin_client(app)
    d_user = world.contacts["d_user"]
    assert "cannot sign in yet" in page(office, f"/admin/contacts/{d_user}")
    response = switch(office, world.accounts["D"], True, back="list", q="Dog")
    assert response.headers["Location"] == "/admin/accounts?q=Dog"
    assert "The portal is on for Dogwood Disabled" in page(
        office, response.headers["Location"]
    )
    customer = app.test_client()
    sign_in(app, customer, "d_user")
    assert "D-500" in customer.get("/invoices").get_data(as_text=True)
    assert "cannot sign in yet" not in page(office, f"/admin/contacts/{d_user}")


def test_adoption_counts_invited_signed_in_and_downloads(app, world):
    office = admin_client(app)
    parent, site = app.test_client(), app.test_client()
    sign_in(app, parent, "a_parent")
    sign_in(app, site, "a1_only")
    assert parent.get(f"/invoices/{world.invoices['A-100']}/pdf").status_code == 200
    assert (
        parent.get(f"/documents/{world.documents['jobsheet-A1.pdf']}").status_code
        == 200
    )
    assert site.get(f"/invoices/{world.invoices['A1-200']}").status_code == 200
    zipped = parent.post(
        "/invoices/download",
        data={
            "invoice": [world.invoices["A-100"], world.invoices["A2-300"]],
            "csrf_token": re.search(
                r'name="csrf_token" value="([^"]+)"',
                parent.get("/invoices").get_data(as_text=True),
            ).group(1),
        },
    )
    assert zipped.status_code == 200
    # an admin's preview downloads do not count
    post(office, f"/admin/contacts/{world.contacts['a_parent']}/preview")
    assert office.get(f"/invoices/{world.invoices['A-100']}/pdf").status_code == 200

    html = page(office, f"/admin/accounts/{world.accounts['A']}")
    stats = dict(
        re.findall(r'stat-label">([^<]+)</p><p class="stat-value">(\d+)<', html)
    )
    assert stats == {
        "Contacts invited": "3",  # a_parent, a1_only, a_docs (revoked_user is not)
        "Have signed in": "2",
        "Documents and PDFs downloaded": "4",  # PDF, job sheet, two PDFs in a ZIP
        "Invoices and credit notes viewed": "1",
    }
    assert "a1_only@example.com" in html and "revoked_user@example.com" in html
    elm = page(office, f"/admin/accounts/{world.accounts['A:Elm Court']}")
    stats = dict(
        re.findall(r'stat-label">([^<]+)</p><p class="stat-value">(\d+)<', elm)
    )
    assert (
        stats["Contacts invited"] == "3"
        and stats["Documents and PDFs downloaded"] == "1"
    )
    listing = page(office, "/admin/accounts")
    birch = row_of(listing, "Birch Dental")
    assert re.findall(r'class="num">(\d+)<', birch) == ["1", "0", "0"]
    assert office.get("/admin/accounts/99999").status_code == 404
