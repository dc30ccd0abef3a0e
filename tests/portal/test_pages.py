"""Every customer page for both roles: what a contact sees and downloads."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from decimal import Decimal

from pypdf import PdfReader
from sqlalchemy import select

from schemas.tables import AUDIT_EVENTS
from tests.portal.conftest import XSS, csrf_from, sign_in


def text_of(response) -> str:
    return response.get_data(as_text=True)


def audit_actions(app) -> list[tuple[str, str]]:
    store = app.extensions["billfold"].store
    with store.read() as conn:
        return [
            (r.actor, r.action)
            for r in conn.execute(select(AUDIT_EVENTS).order_by(AUDIT_EVENTS.c.id))
        ]


def test_home_shows_balance_overdue_credit_and_freshness(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/"))
    # A-100 100.00 + A1-200 50.00 open; A2-300 paid; A2-301 is a draft and hidden.
    assert "$150.00" in html
    assert "2 open invoices" in html
    assert "2 overdue: $150.00" in html
    assert "Credit on your account: $20.00" in html
    assert "Figures as of" in html and "books" not in html  # no source names
    assert "A2-301" not in html
    assert "B-400" not in html and "Birch" not in html


def test_invoice_list_filters_search_sort_and_pages(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/invoices"))
    for number in ("A-100", "A1-200", "A2-300"):
        assert number in html
    assert "A2-301" not in html and "B-400" not in html
    assert "3 invoices" in html
    assert "A2-300" not in text_of(client.get("/invoices?status=open"))
    assert "A-100" not in text_of(client.get("/invoices?status=paid"))
    only = text_of(client.get("/invoices?q=Oak"))
    assert "A2-300" in only and "A-100" not in only
    assert "1 invoice" in text_of(client.get("/invoices?q=A1-"))
    first = text_of(client.get("/invoices?sort=amount"))
    assert first.index("A2-300") < first.index("A1-200") < first.index("A-100")
    assert "0 invoices" in text_of(client.get("/invoices?from=2030-01-01"))
    # a filter that cannot be read says so (REQ-02), never silently shows everything
    for query, says in (
        ("status=%27;drop", "Choose the status from: all, open"),
        ("sort=evil", "Choose the sort from: newest"),
        ("page=x", "is not a page"),
    ):
        response = client.get(f"/invoices?{query}")
        assert response.status_code == 400, query
        assert says in text_of(response), query


def test_invoice_detail_escapes_imported_text(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get(f"/invoices/{world.invoices['A1-200']}"))
    assert "Invoice A1-200" in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "$150.00" in html and "$50.00" in html
    assert (f"contact:{world.contacts['a_parent']}", "view_invoice") in audit_actions(
        app
    )


def test_every_page_title_is_plain_text_naming_the_page(app, client, world):
    # A title block left open once swallowed the "I've paid" form into <title>.
    sign_in(app, client, "a_parent")
    open_invoice = world.invoices["A1-200"]
    pages = {
        "/": "Your account",
        "/invoices": "Invoices",
        f"/invoices/{open_invoice}": "Invoice A1-200",
        "/credit-notes": "Credit notes",
        "/payments": "Payments",
        "/statements": "Statement",
        "/documents": "Documents",
    }
    for path, expected in pages.items():
        html = text_of(client.get(path))
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        assert title.startswith(expected), (path, title)
        assert "<" not in title and "\n" not in title, (path, title)


def test_invoice_pdf_is_the_original_when_imported_else_generated(app, client, world):
    sign_in(app, client, "a_parent")
    original = client.get(f"/invoices/{world.invoices['A-100']}/pdf")
    assert original.status_code == 200
    assert b"original original-A-100.pdf" in original.data
    generated = client.get(f"/invoices/{world.invoices['A1-200']}/pdf")
    assert generated.headers["Content-Type"] == "application/pdf"
    assert generated.headers["Content-Disposition"].startswith("attachment;")
    text = PdfReader(io.BytesIO(generated.data)).pages[0].extract_text()
    assert (
        "Harbor Plumbing & Heating" in text and "INVOICE" in text and "A1-200" in text
    )
    assert "$200.00" in text and "$50.00" in text
    assert XSS in text  # drawn as text, never interpreted


def test_statement_page_and_downloads(app, client, world):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/statements?from=2025-01-01&to=2025-12-31"))
    assert (
        "Elm Court" in html and "Oak Plaza" in html and "Alder Property Group" in html
    )
    pdf = client.get("/statements/download?from=2025-01-01&to=2025-12-31&format=pdf")
    assert pdf.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "STATEMENT" in text and "Elm Court" in text and "Birch" not in text
    # Up to today: the paid part of A1-200 is known from the export (dated when reported).
    data = client.get("/statements/download?format=csv").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    closing = sum(Decimal(r["balance"]) for r in rows if r["type"] == "closing_balance")
    assert closing == Decimal("130.00")  # 100 + 50 open - 20 credit
    assert all(not r["description"].startswith("=") for r in rows)


def test_invoice_csv_export_neutralises_formulas(app, client, world):
    sign_in(app, client, "a_parent")
    response = client.get("/invoices.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "number"
    assert {r[0] for r in rows[1:]} == {"A-100", "A1-200", "A2-300"}
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    assert (
        f"contact:{world.contacts['a_parent']}",
        "export_invoices_csv",
    ) in audit_actions(app)


def test_zip_of_selected_invoices(app, client, world):
    sign_in(app, client, "a_parent")
    csrf = csrf_from(text_of(client.get("/invoices")))
    ids = [world.invoices["A-100"], world.invoices["A1-200"]]
    response = client.post(
        "/invoices/download", data={"csrf_token": csrf, "invoice": ids}
    )
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert sorted(names) == ["invoice-A-100.pdf", "invoice-A1-200.pdf"]
    mixed = client.post(
        "/invoices/download",
        data={"csrf_token": csrf, "invoice": [*ids, world.invoices["B-400"]]},
    )
    assert mixed.status_code == 404


def test_payments_and_credit_notes(app, client, world):
    sign_in(app, client, "a_parent")
    payments = text_of(client.get("/payments"))
    assert "PAY-A2" in payments and "A2-300" in payments and "$300.00" in payments
    notes = text_of(client.get("/credit-notes"))
    assert "CN-A1" in notes and "$20.00" in notes
    detail = text_of(client.get(f"/credit-notes/{world.credit_notes['CN-A1']}"))
    assert "Left to use" in detail


def test_documents_role_sees_documents_but_no_amounts(app, client, world):
    sign_in(app, client, "a_docs")
    home = text_of(client.get("/"))
    assert "What you owe" not in home and "$" not in home
    docs = text_of(client.get("/documents"))
    assert "jobsheet-A1.pdf" in docs
    assert "original-A-100.pdf" not in docs  # an invoice copy carries amounts
    for path in ("/invoices", "/invoices.csv", "/statements", "/payments", "/credit-notes",
                 f"/invoices/{world.invoices['A-100']}", f"/invoices/{world.invoices['A-100']}/pdf",
                 f"/documents/{world.documents['original-A-100.pdf']}"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    assert (
        client.get(f"/documents/{world.documents['jobsheet-A1.pdf']}").status_code
        == 200
    )


def test_a_site_contact_sees_only_that_site(app, client, world):
    sign_in(app, client, "a1_only")
    html = text_of(client.get("/invoices"))
    assert "A1-200" in html and "A-100" not in html and "A2-300" not in html
    assert client.get(f"/invoices/{world.invoices['A-100']}").status_code == 404
    st = text_of(client.get("/statements?from=2025-01-01&to=2025-12-31"))
    assert "Elm Court" in st and "Oak Plaza" not in st and "Portfolio fee" not in st


def test_empty_account_shows_empty_pages_not_other_data(app, client, world):
    sign_in(app, client, "e_user")
    for path in (
        "/",
        "/invoices",
        "/payments",
        "/credit-notes",
        "/documents",
        "/statements",
    ):
        html = text_of(client.get(path))
        assert client.get(path).status_code == 200, path
        for leaked in ("A-100", "B-400", "Birch", "Alder", "Elm Court"):
            assert leaked not in html, (path, leaked)


def test_account_switcher_narrows_the_view(app, client, world):
    store = app.extensions["billfold"].store
    from sync.access import grants

    with store.write(ledger=False) as conn:
        grants.grant_access(
            conn, world.contacts["b_user"], world.accounts["E"], "billing"
        )
    sign_in(app, client, "b_user")
    html = text_of(client.get("/invoices"))
    assert 'id="account-switch"' in html
    csrf = csrf_from(html)
    client.post(
        "/account",
        data={"csrf_token": csrf, "account": world.accounts["E"], "next": "/invoices"},
    )
    assert "B-400" not in text_of(client.get("/invoices"))
    assert (
        client.post(
            "/account", data={"csrf_token": csrf, "account": world.accounts["A"]}
        ).status_code
        == 404
    )
    client.post("/account", data={"csrf_token": csrf, "account": "all"})
    assert "B-400" in text_of(client.get("/invoices"))


def test_security_headers(app, client, world):
    sign_in(app, client, "a_parent")
    response = client.get("/")
    h = response.headers
    assert (
        "script-src 'self'" in h["Content-Security-Policy"]
        and "unsafe-inline" not in h["Content-Security-Policy"]
    )
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Strict-Transport-Security"].startswith("max-age=")
    assert h["Cache-Control"] == "no-store"
    assert "<script>" not in text_of(response).replace(
        '<script src="/static/portal.js" defer></script>', ""
    )


def test_brand_colours_are_a_stylesheet_with_readable_text(app, client):
    css = text_of(client.get("/brand.css"))
    assert "--brand:#1f4e79" in css and "--brand-ink:#ffffff" in css
    from portal.branding import brand_css

    assert "--brand-ink:#111111" in brand_css("#ffe066")  # light brand, dark text


def test_unknown_pages_are_friendly_404s(client):
    response = client.get("/nope")
    assert response.status_code == 404 and "Not found" in text_of(response)


def test_a_malformed_id_is_a_plain_404(client, world):
    response = client.get("/invoices/abc")
    assert response.status_code == 404
    assert "Traceback" not in text_of(response)


def test_invoice_list_pages(portal_settings, store, world):
    from dataclasses import replace

    from portal import create_app
    from tests.portal.conftest import sign_in as do_sign_in

    settings = replace(
        portal_settings, portal=replace(portal_settings.portal, page_size=2)
    )
    app = create_app(settings, store=store)
    client = app.test_client()
    do_sign_in(app, client, "a_parent")
    first = text_of(client.get("/invoices?sort=number"))
    assert "Page 1 of 2" in first and "A-100" in first and "A2-300" not in first
    second = text_of(client.get("/invoices?sort=number&page=2"))
    assert "Page 2 of 2" in second and "A2-300" in second and "A-100" not in second
    assert 'rel="prev"' in second


def test_a_locked_or_unreachable_store_is_a_503_not_a_traceback(
    app, client, world, monkeypatch
):
    from sync.errors import StoreError

    sign_in(app, client, "a_parent")

    def broken(*args, **kwargs):
        raise StoreError("the database is locked by another program")

    monkeypatch.setattr("portal.customer.invoice_page", broken)
    response = client.get("/invoices")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "Back in a moment" in text_of(response) and "Traceback" not in text_of(
        response
    )
