"""Admin: choosing accounts for a contact, revoking with confirmation, and an account's
balance. The picker searches on the server (no JavaScript needed) and tells look-alike
names apart; revoke asks first and the contact page then shows the access as ended,
when and by whom; the account page shows what the customer's home page shows."""

from __future__ import annotations

import html
import re

from sqlalchemy import insert

from schemas.tables import ACCOUNTS
from tests.portal.conftest import csrf_from, sign_in
from tests.portal.test_admin import page, post
from tests.portal.test_admin_contacts import admin_client

OFFICE = "office@harbor.example"


def text_of(html_text: str) -> str:
    body = re.sub(r"<[^>]+>", "", html_text)
    return re.sub(r"\s+", " ", html.unescape(body))


def picks(html_text: str) -> list[tuple[str, bool, str]]:
    """(account id, checked, what the admin reads) of every account the picker lists."""
    found = re.findall(
        r'<label class="pick"><input type="(?:checkbox|radio)" name="account" '
        r'value="(\d+)" ?(checked)?>(.*?)</label>',
        html_text,
        re.S,
    )
    return [(a, bool(c), text_of(t).strip()) for a, c, t in found]


def _look_alike(app) -> int:
    """Another source's customer with the very name of the fixture's parent account."""
    with app.extensions["billfold"].store.write() as conn:
        return conn.execute(
            insert(ACCOUNTS)
            .values(source="xero", external_key="C-77", name="Alder Property Group",
                    portal_enabled=True)
            .returning(ACCOUNTS.c.id)
        ).scalar_one()  # fmt: skip


def test_the_invite_picker_searches_and_tells_look_alikes_apart(app, world):
    office = admin_client(app)
    twin = _look_alike(app)
    alder = world.accounts["A"]
    form = page(office, "/admin/contacts/invite")
    found = post(
        office,
        "/admin/contacts/invite/find",
        {"email": "new@example.com", "name": "Nia", "find": "alder"},
    )
    assert found.status_code == 200
    shown = found.get_data(as_text=True)
    assert 'value="new@example.com"' in shown and 'value="Nia"' in shown
    listed = {a: text for a, _, text in picks(shown)}
    assert listed[str(alder)] == (
        "Alder Property Group parent of 2 sites · customer number A · from books"
    )
    assert listed[str(twin)] == "Alder Property Group customer number C-77 · from xero"
    # A site is found by its parent's name and says whose site it is.
    assert (
        "Elm Court site of Alder Property Group · customer number A:Elm Court · from books"
        in (listed.values())
    )
    assert str(world.accounts["B"]) not in listed
    # A chosen account stays chosen through the next search.
    again = post(
        office,
        "/admin/contacts/invite/find",
        {"email": "new@example.com", "find": "birch", "account": str(twin)},
    ).get_data(as_text=True)
    chosen = [(a, c) for a, c, _ in picks(again)]
    assert chosen[0] == (str(twin), True)
    assert (str(world.accounts["B"]), False) in chosen
    assert "search" in form.casefold() and 'name="find"' in form


def test_a_search_that_finds_nothing_says_so(app, world):
    office = admin_client(app)
    shown = post(
        office, "/admin/contacts/invite/find", {"find": "<Nobody & Co>"}
    ).get_data(as_text=True)
    assert "No account matches “&lt;Nobody &amp; Co&gt;”" in shown
    assert picks(shown) == []


def test_the_grant_picker_finds_an_account_by_customer_number(app, world):
    office = admin_client(app)
    twin = _look_alike(app)
    b_user = world.contacts["b_user"]
    response = post(
        office,
        f"/admin/contacts/{b_user}/grants/find",
        {"find": "c-77", "role": "documents"},
    )
    assert response.status_code == 302
    shown = page(office, response.headers["Location"])
    assert [a for a, _, _ in picks(shown)] == [str(twin)]
    assert '<option value="documents" selected>' in shown
    added = post(
        office,
        f"/admin/contacts/{b_user}/grants",
        {"account": str(twin), "role": "billing"},
    )
    assert added.status_code == 302
    assert "Access to Alder Property Group (billing) added." in page(
        office, added.headers["Location"]
    )


def test_revoke_asks_first_then_shows_the_access_as_ended(app, world):
    office = admin_client(app)
    b_user = world.contacts["b_user"]
    contact = page(office, f"/admin/contacts/{b_user}")
    assert f'action="/admin/contacts/{b_user}/revoke"' not in contact
    assert f'href="/admin/contacts/{b_user}/revoke/confirm"' in contact
    confirm = page(office, f"/admin/contacts/{b_user}/revoke/confirm")
    said = text_of(confirm)
    assert "Revoke b_user@example.com's access?" in said
    assert "They no longer see Birch Dental or its sites." in said
    assert f'action="/admin/contacts/{b_user}/revoke"' in confirm
    assert 'name="csrf_token"' in confirm
    # Still there until the admin says yes.
    customer = app.test_client()
    sign_in(app, customer, "b_user")
    assert customer.get("/invoices").status_code == 200
    done = office.post(
        f"/admin/contacts/{b_user}/revoke", data={"csrf_token": csrf_from(confirm)}
    )
    assert done.status_code == 302
    after = text_of(page(office, done.headers["Location"]))
    assert "Access (ended)" in after
    assert re.search(
        rf"Access ended \d\d \w{{3}} \d{{4}} \d\d:\d\d UTC by {OFFICE}\.", after
    )
    assert "Birch Dental" in after and "ended " in after
    assert customer.get("/invoices").status_code != 200
    # Asking again after the end says so instead of offering to revoke twice.
    again = office.get(f"/admin/contacts/{b_user}/revoke/confirm")
    assert again.headers["Location"] == f"/admin/contacts/{b_user}"


def _stat_values(html_text: str) -> list[str]:
    return [
        text_of(v).strip()
        for v in re.findall(r'<p class="stat-value">(.*?)</p>', html_text, re.S)
    ]


def test_the_account_page_shows_the_balance_the_customer_sees(app, world):
    office = admin_client(app)
    customer = app.test_client()
    sign_in(app, customer, "a_parent")
    home = customer.get("/").get_data(as_text=True)
    account = page(office, f"/admin/accounts/{world.accounts['A']}")
    assert "Balance (with its 2 sites)" in text_of(account)
    owed = _stat_values(home)[0]
    assert owed == "$150.00"  # A-100 100.00 + A1-200 50.00 open; A2 paid, draft hidden
    assert _stat_values(account)[0] == owed
    assert "Credit on account: $20.00" in text_of(account)
    assert "Credit on your account: $20.00" in text_of(home)
    site = page(office, f"/admin/accounts/{world.accounts['A:Elm Court']}")
    assert _stat_values(site)[0] == "$50.00"
