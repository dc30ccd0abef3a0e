"""What a customer notices on the invoice list, home, statements and receipts (issue 16):
filters that keep their place, sites, quick periods, how to pay, receipts in scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import select

from portal import create_app
from portal.customer import date_presets, default_statement_start
from schemas.tables import Payment
from tests.portal.conftest import csrf_from, sign_in

P = Payment.__table__  # type: ignore[attr-defined]


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def test_zip_with_nothing_ticked_keeps_the_page_and_its_filters(app, client, world):
    sign_in(app, client, "a_parent")
    csrf = csrf_from(text_of(client.get("/invoices?status=open&q=A")))
    response = client.post(
        "/invoices/download",
        data={"csrf_token": csrf, "back": "q=A&status=open&page=1&evil=1"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/invoices?q=A&status=open&page=1"
    page = text_of(client.get(response.headers["Location"]))
    assert "Tick the invoices you want" in page
    assert 'value="A"' in page  # the search is still filled in


def test_a_page_past_the_end_goes_to_the_last_page(app, client, world):
    sign_in(app, client, "a_parent")
    response = client.get("/invoices?q=A&page=40")
    assert response.status_code == 302
    assert response.headers["Location"] == "/invoices?q=A&page=1"


def test_a_bad_date_in_the_filters_is_reported(app, client, world):
    sign_in(app, client, "a_parent")
    response = client.get("/invoices?from=2025-13-01")
    assert response.status_code == 400
    assert "is not a date" in text_of(response) and "YYYY-MM-DD" in text_of(response)


def test_site_filter_shows_one_site_and_never_another_customers(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/invoices"))
    assert '<label for="site">Site</label>' in html and "Elm Court" in html
    elm = world.accounts["A:Elm Court"]
    only = text_of(client.get(f"/invoices?site={elm}"))
    assert "A1-200" in only and "A-100" not in only and "1 invoice" in only
    assert client.get(f"/invoices?site={world.accounts['B']}").status_code == 404
    assert client.get("/invoices?site=x").status_code == 400


def test_date_presets_link_to_their_periods():
    presets = date_presets(date(2026, 5, 31))
    assert presets == [
        ("Last 3 months", date(2026, 2, 28), date(2026, 5, 31)),
        ("This year", date(2026, 1, 1), date(2026, 5, 31)),
        ("Last year", date(2025, 1, 1), date(2025, 12, 31)),
    ]
    assert date_presets(date(2026, 1, 15))[0][1] == date(2025, 10, 15)


def test_presets_and_select_all_are_on_the_list(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/invoices?status=open"))
    for label in ("Last 3 months", "This year", "Last year"):
        assert f">{label}</a>" in html
    assert "status=open&amp;from=" in html  # a preset keeps the other filters
    assert 'id="pick-all"' in html and "Select all on this page" in html


def test_overdue_invoice_with_a_payment_says_partly_paid(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/invoices?q=A1-200"))
    assert "Overdue" in html and "Partially paid" in html


def test_statement_default_period_reaches_the_oldest_open_invoice():
    assert default_statement_start(date(2026, 6, 10), None) == date(2025, 6, 11)
    assert default_statement_start(date(2026, 6, 10), date(2024, 3, 1)) == date(
        2024, 3, 1
    )
    assert default_statement_start(date(2028, 2, 29), None) == date(2027, 3, 1)


def test_statement_page_by_default_shows_the_open_invoices(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/statements"))
    # A-100 (issued 2025-03-01, still open) is inside the default period.
    assert 'value="2025-03-01"' in html
    assert "A-100" in html


def test_home_shows_sites_and_how_to_pay(portal_settings, store, world):
    settings = replace(
        portal_settings,
        business=replace(
            portal_settings.business,
            remit_to="PO Box 12, Portland, ME 04101",
            bank_details="Harbor Bank, routing 011000015, account 1234567",
        ),
    )
    app = create_app(settings, store=store)
    client = app.test_client()
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/"))
    assert "By site" in html and "Elm Court" in html and "Oak Plaza" in html
    assert f'href="/invoices?site={world.accounts["A:Elm Court"]}"' in html
    assert "How to pay" in html and "routing 011000015" in html
    assert "By check" in html and "PO Box 12" in html
    assert "payable to Harbor Plumbing &amp; Heating" in html
    british = replace(settings, business=replace(settings.business, locale="en_GB"))
    app = create_app(british, store=store)
    client = app.test_client()
    sign_in(app, client, "a_parent")
    assert "By cheque" in text_of(client.get("/"))


def test_home_without_payment_details_has_no_empty_how_to_pay(app, client, world):
    sign_in(app, client, "a_parent")
    assert "How to pay" not in text_of(client.get("/"))


def _payment_id(app, world) -> int:  # type: ignore[no-untyped-def]
    with app.extensions["billfold"].store.read() as conn:
        return conn.execute(
            select(P.c.id).where(P.c.account_id == world.accounts["A:Oak Plaza"])
        ).scalar_one()


def test_payment_receipt_says_what_it_paid_when_and_how(app, client, world):
    sign_in(app, client, "a_parent")
    payment_id = _payment_id(app, world)
    listing = text_of(client.get("/payments"))
    assert f'href="/payments/{payment_id}"' in listing
    html = text_of(client.get(f"/payments/{payment_id}"))
    assert "Payment received" in html and "$300.00" in html
    assert "A2-300" in html and "Oak Plaza" in html and "What it paid" in html


def test_another_accounts_payment_receipt_is_a_404(app, client, world):
    sign_in(app, client, "b_user")
    assert client.get(f"/payments/{_payment_id(app, world)}").status_code == 404
    assert client.get("/payments/999999").status_code == 404


def test_a_documents_only_contact_gets_no_receipt(app, client, world):
    sign_in(app, client, "a_docs")
    assert client.get(f"/payments/{_payment_id(app, world)}").status_code in (
        403,
        404,
    )


def test_documents_say_which_site_or_account(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/documents"))
    assert "Site or account" in html


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and b"<svg" in response.data
    assert 'rel="icon"' in text_of(client.get("/sign-in"))
