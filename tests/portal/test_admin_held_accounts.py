"""Admin: an account whose customer id carried several names is held (issue 11, item 14).

The accounts page marks it, its page lists the names with a Confirm button, its switch
refuses to turn it on, and its contacts see nothing of it until an admin confirms.
"""

from __future__ import annotations

from sqlalchemy import select

from schemas.tables import ACCOUNTS, AUDIT_EVENTS
from tests.portal.conftest import sign_in
from tests.portal.test_admin import page, post
from tests.portal.test_admin_accounts import row_of, switch
from tests.portal.test_admin_contacts import admin_client

A = ACCOUNTS
E = AUDIT_EVENTS
NAMES = '["Birch Dental", "<b>Another Clinic</b>"]'


def hold(store, account_id: int) -> None:
    with store.write(ledger=False) as conn:
        conn.execute(
            A.update().where(A.c.id == account_id).values(names_to_confirm=NAMES)
        )


def test_a_held_account_is_closed_until_an_admin_confirms_its_names(app, world, store):
    birch = world.accounts["B"]
    customer = app.test_client()
    sign_in(app, customer, "b_user")
    invoice = f"/invoices/{world.invoices['B-400']}"
    assert customer.get(invoice).status_code == 200

    hold(store, birch)  # (an import found a second name for Birch's customer id)
    assert customer.get(invoice).status_code in (302, 404)  # nothing of it is shown
    office = admin_client(app)
    listing = page(office, "/admin/accounts")
    assert "Held</span>" in row_of(listing, "Birch Dental")
    assert "Review names" in row_of(listing, "Birch Dental")
    shown = page(office, f"/admin/accounts/{birch}")
    assert "&lt;b&gt;Another Clinic&lt;/b&gt;" in shown and "<b>Another" not in shown
    assert "This is one customer" in shown and "Turn the portal on" not in shown

    # The switch refuses, off or on, while it is held.
    switch(office, birch, False)
    refused = switch(office, birch, True, back="list")
    assert refused.status_code == 302
    assert "cannot be opened to the portal" in page(office, refused.headers["Location"])
    with store.read() as conn:
        assert (
            conn.execute(select(A.c.portal_enabled).where(A.c.id == birch)).scalar_one()
            is False
        )

    confirmed = post(office, f"/admin/accounts/{birch}/confirm")
    assert confirmed.status_code == 302
    assert "are one customer" in page(office, confirmed.headers["Location"])
    assert switch(office, birch, True).status_code == 302
    sign_in(app, customer, "b_user")
    assert customer.get(invoice).status_code == 200
    with store.read() as conn:
        actions = conn.execute(
            select(E.c.action).where(E.c.account_id == birch).order_by(E.c.id)
        ).scalars()
        assert [a for a in actions if a.startswith(("account", "portal"))] == [
            "portal_disabled",
            "account_confirmed",
            "portal_enabled",
        ]
