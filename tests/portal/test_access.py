"""The access matrix: every customer route x every contact x every record id.

Generated from ``app.url_map``: a new route that takes an id fails this test until its
id is listed in ID_KINDS, so no route can skip the scope check unnoticed. A record
outside a contact's scope is a 404, never a 403 and never data.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.routing import Rule

from schemas.tables import Payment
from tests.portal.conftest import csrf_from, sign_in

# Which records each id parameter names, and who may see each record.
ID_KINDS = {
    "invoice_id": "invoices",
    "credit_note_id": "credit_notes",
    "document_id": "documents",
    "payment_id": "payments",
}
VISIBLE = {
    "a_parent": {"invoices": {"A-100", "A1-200", "A2-300"}, "credit_notes": {"CN-A1"},
                 "documents": {"jobsheet-A1.pdf", "original-A-100.pdf"}, "statement_accounts": {"A", "A:Elm Court", "A:Oak Plaza"},
                 "payments": {"PAY-A2"}},
    "a1_only": {"invoices": {"A1-200"}, "credit_notes": {"CN-A1"}, "documents": {"jobsheet-A1.pdf"},
                "statement_accounts": {"A:Elm Court"}, "payments": set()},
    "a_docs": {"invoices": set(), "credit_notes": set(), "documents": {"jobsheet-A1.pdf"}, "statement_accounts": set(), "payments": set()},
    "b_user": {"invoices": {"B-400"}, "credit_notes": set(), "documents": {"contract-B.pdf"}, "statement_accounts": {"B"}, "payments": set()},
    "e_user": {"invoices": set(), "credit_notes": set(), "documents": set(), "statement_accounts": {"E"}, "payments": set()},
}  # fmt: skip
P = Payment.__table__  # type: ignore[attr-defined]
MARKERS = {"A": ("Alder", "A-100", "Elm Court", "Oak Plaza"), "B": ("Birch", "B-400")}


def payment_ids(app) -> dict[str, int]:
    """The fixture's payments by their number (the export's id)."""
    with app.extensions["billfold"].store.read() as conn:
        rows = conn.execute(select(P.c.external_id, P.c.id)).all()
    return {key.rsplit("/", 1)[-1]: payment_id for key, payment_id in rows}


def customer_rules(app) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("customer.")]


def test_every_id_bearing_route_is_in_the_matrix(app):
    params = {arg for rule in customer_rules(app) for arg in rule.arguments}
    assert params <= set(ID_KINDS), f"add {params - set(ID_KINDS)} to ID_KINDS"


def test_every_customer_route_requires_a_session(app, client, world):
    for rule in customer_rules(app):
        values = {arg: 1 for arg in rule.arguments}
        path = app.url_map.bind("x").build(rule.endpoint, values)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method)
            assert response.status_code in (302, 400), (
                method,
                path,
                response.status_code,
            )
            if response.status_code == 302:
                assert response.headers["Location"] == "/sign-in"


@pytest.mark.parametrize("contact", sorted(VISIBLE))
def test_records_outside_scope_are_404_on_every_route(app, client, world, contact):
    sign_in(app, client, contact)
    ids = {
        "invoices": world.invoices,
        "credit_notes": world.credit_notes,
        "documents": world.documents,
        "payments": payment_ids(app),
    }
    checked = 0
    for rule in customer_rules(app):
        if not rule.arguments or "GET" not in rule.methods:
            continue
        [arg] = rule.arguments
        kind = ID_KINDS[arg]
        for name, record_id in ids[kind].items():
            path = app.url_map.bind("x").build(rule.endpoint, {arg: record_id})
            response = client.get(path)
            expected = 200 if name in VISIBLE[contact][kind] else 404
            assert response.status_code == expected, (contact, path, name)
            checked += 1
        for missing in (0, 999_999):
            path = app.url_map.bind("x").build(rule.endpoint, {arg: missing})
            assert client.get(path).status_code == 404
    assert checked > 10


@pytest.mark.parametrize("contact", sorted(VISIBLE))
def test_zip_and_statement_parameters_respect_scope(app, client, world, contact):
    sign_in(app, client, contact)
    sees_amounts = bool(VISIBLE[contact]["statement_accounts"])
    html = client.get("/").get_data(as_text=True)
    csrf = csrf_from(html)
    for number, invoice_id in world.invoices.items():
        response = client.post(
            "/invoices/download", data={"csrf_token": csrf, "invoice": [invoice_id]}
        )
        expected = 200 if number in VISIBLE[contact]["invoices"] else 404
        assert response.status_code == expected, (contact, number)
    for key, account_id in world.accounts.items():
        for path in (
            f"/statements?account={account_id}",
            f"/statements/download?account={account_id}&format=csv",
        ):
            response = client.get(path)
            expected = 200 if key in VISIBLE[contact]["statement_accounts"] else 404
            assert response.status_code == expected, (contact, path)
    assert client.get("/statements?account=abc").status_code == 404
    assert client.get("/statements").status_code == (200 if sees_amounts else 404)


@pytest.mark.parametrize("contact", sorted(VISIBLE))
def test_list_pages_show_nothing_of_other_tenants(app, client, world, contact):
    sign_in(app, client, contact)
    tenant = "B" if contact == "b_user" else "A" if contact.startswith("a") else None
    for rule in customer_rules(app):
        if rule.arguments or "GET" not in rule.methods:
            continue
        path = app.url_map.bind("x").build(rule.endpoint)
        response = client.get(path)
        assert response.status_code in (200, 404), path
        body = (
            response.get_data(as_text=True)
            if response.mimetype.startswith("text")
            else ""
        )
        for owner, markers in MARKERS.items():
            if owner != tenant:
                for marker in markers:
                    assert marker not in body, (contact, path, marker)


@pytest.mark.parametrize("contact", ["revoked_user", "d_user"])
def test_revoked_and_disabled_contacts_cannot_sign_in(app, client, world, contact):
    from sync.access import contacts, links

    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        found = contacts.find_contact(conn, f"{contact}@example.com")
        token = links.issue_link(conn, "contact", found["id"], found["email"], 15)
    page = client.get(f"/sign-in/{token}")
    response = client.post(
        f"/sign-in/{token}", data={"csrf_token": csrf_from(page.get_data(as_text=True))}
    )
    assert response.status_code == 410
    assert client.get("/invoices").status_code == 302


def test_disabling_an_account_hides_it_at_once(app, client, world):
    from sqlalchemy import update

    from schemas.tables import ACCOUNTS

    sign_in(app, client, "b_user")
    assert client.get(f"/invoices/{world.invoices['B-400']}").status_code == 200
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        conn.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == world.accounts["B"])
            .values(portal_enabled=False)
        )
    assert client.get(f"/invoices/{world.invoices['B-400']}").status_code in (302, 404)
