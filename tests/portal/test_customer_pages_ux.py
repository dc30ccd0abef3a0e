"""What a customer notices on the invoice list, home, statements and receipts (issue 16):
filters that keep their place, sites, quick periods, how to pay, receipts in scope."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date

from pypdf import PdfReader
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


def test_the_demo_fills_every_customer_page(store, settings, tmp_path):
    from sync.cli.demo import DEMO_CONTACT, run_demo

    run_demo(store, settings, lambda _line: None)
    app = create_app(replace(settings, base_url="https://portal.example"), store=store)
    client = app.test_client()
    sign_in(app, client, DEMO_CONTACT.split("@")[0])
    listing = text_of(client.get("/invoices?q=N-507"))
    [invoice_id] = {int(x) for x in re.findall(r'href="/invoices/(\d+)"', listing)}
    invoice = text_of(client.get(f"/invoices/{invoice_id}"))
    assert "Labor - replace shut-off valves" in invoice and "$375.00" in invoice
    payments = text_of(client.get("/payments"))
    assert "Check 10452" in payments and 'href="/payments/' in payments
    assert "CN-N1" in text_of(client.get("/credit-notes"))
    documents = text_of(client.get("/documents"))
    assert "jobsheet-N-507.pdf" in documents and "receipt-PAY-N507.pdf" in documents
    statement = text_of(client.get("/statements"))  # the default period
    assert "There is no activity" not in statement and "N-502" in statement
    home = text_of(client.get("/"))
    assert "By site" in home and "12 Elm Street" in home


def test_serve_on_the_demo_data_speaks_as_the_demo_business(
    store, settings, tmp_path, monkeypatch
):
    from click.testing import CliRunner

    import sync.cli.server
    from sync.cli import main
    from sync.cli.demo import demo_env, run_demo

    assert demo_env(store, settings) == {}  # no demo data: nothing changes
    run_demo(store, settings, lambda _line: None)
    assert demo_env(store, settings)["BILLFOLD_BUSINESS_NAME"] == (
        "Harbor Plumbing & Heating"
    )
    named = replace(settings, business=replace(settings.business, name="Acme"))
    assert demo_env(store, named) == {}  # a business of its own keeps its name
    seen = {}
    monkeypatch.setattr(
        sync.cli.server, "run_server", lambda *a, env=None, **k: seen.update(env or {})
    )
    monkeypatch.setenv("BILLFOLD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BILLFOLD_DATABASE_URL", settings.resolved_database_url)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    assert seen["BILLFOLD_BUSINESS_NAME"] == "Harbor Plumbing & Heating"
    assert "PO Box 4410" in seen["BILLFOLD_BUSINESS_REMIT_TO"]


def test_invoice_copy_pdf_says_what_it_lacks_and_how_to_pay(
    portal_settings, store, world
):
    settings = replace(
        portal_settings,
        business=replace(
            portal_settings.business, locale="en_GB", remit_to="PO Box 12, Portland"
        ),
    )
    app = create_app(settings, store=store)
    client = app.test_client()
    sign_in(app, client, "a_parent")
    pdf = client.get(f"/invoices/{world.invoices['A1-200']}/pdf").data
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "No line items were recorded for this invoice" in text
    assert "Paid" in text and "US$150.00" in text and "-US$150.00" not in text
    assert "How to pay" in text and "By cheque, payable to Harbor Plumbing" in text
    assert "Page 1 of 1" in text


def test_admin_chrome_brand_goes_to_admin_home_and_the_footer_is_for_staff(app, world):
    from tests.portal.test_admin import admin_sign_in

    office = app.test_client()
    admin_sign_in(app, office)
    html = text_of(office.get("/admin/contacts"))
    assert '<a class="brand" href="/admin/">' in html
    assert "for staff only" in html and "Questions about an invoice?" not in html
    assert 'rel="icon"' in html


def test_overdue_and_unpaid_with_money_paid_on_it_is_partly_paid(app):
    badge = app.jinja_env.globals["status_badge"]
    late, today = date(2025, 1, 31), date(2025, 3, 1)
    assert "Partly paid" in badge("unpaid", late, today, 500)
    assert "Partly paid" not in badge("unpaid", late, today, 0)
    assert "Partly paid" not in badge("unpaid", date(2025, 4, 1), today, 500)
