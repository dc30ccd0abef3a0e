"""Sales receipts, refunds, overpayments and prepayments as a customer sees them (issue 13).

The two API samples that carry them are imported beside the standard portal ledger; a
contact with billing access to each customer signs in and reads their home page,
Payments, the receipt's copy and a statement.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from schemas.tables import Account, Invoice
from sync.access.contacts import ensure_contact
from sync.access.grants import grant_access
from tests.conftest import SAMPLES
from tests.helpers import run_import
from tests.portal.conftest import sign_in

A = Account.__table__  # type: ignore[attr-defined]
I = Invoice.__table__  # type: ignore[attr-defined]  # noqa: E741
QUICKBOOKS = SAMPLES / "quickbooks_api/receipts_refunds_unapplied_batch.json"
XERO = SAMPLES / "xero_api/overpayments_prepayments_refunds.json"
CUSTOMERS = {
    "dylan": "Dylan Sollfrank",
    "kathy": "Kookies by Kathy",
    "ridgeway": "Ridgeway Veterinary Clinic",
    "bayside": "Bayside Rowing Club",
    "marine": "Harbour Marine Systems",
}


@pytest.fixture
def kinds(app, store, portal_settings):  # type: ignore[no-untyped-def]
    """Import both samples and give each customer a billing contact."""
    for path, source in ((QUICKBOOKS, "qbo"), (XERO, "xero")):
        result = run_import(store, portal_settings, path, source=source)
        assert result.rejected == []
    with store.write() as conn:
        ids = {r.name: r.id for r in conn.execute(select(A.c.id, A.c.name))}
        for login, name in CUSTOMERS.items():
            conn.execute(
                update(A).where(A.c.id == ids[name]).values(portal_enabled=True)
            )
            contact = ensure_contact(conn, f"{login}@example.com", name)
            grant_access(conn, contact, ids[name], "billing")
    return ids


def page(client, url: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_a_prepayment_is_credit_on_the_home_page(app, client, kinds):
    sign_in(app, client, "ridgeway")
    html = page(client, "/")
    assert "Credit on your account: $3,450.00" in html


def test_an_overpayment_alone_gives_a_customer_an_account_with_credit(
    app, client, kinds
):
    sign_in(app, client, "marine")
    html = page(client, "/")
    assert "Credit on your account: $20.00" in html
    assert "0 open invoices" in html


def test_payments_lists_a_prepayment_with_the_invoice_it_paid(app, client, kinds):
    sign_in(app, client, "ridgeway")
    html = page(client, "/payments")
    assert "Prepayment" in html
    assert "$3,950.00" in html
    assert "INV-0101</a> ($500.00)" in html
    assert "$3,450.00 on account" in html


def test_payments_lists_the_refund_of_a_credit_note_and_of_an_overpayment(
    app, client, kinds
):
    sign_in(app, client, "bayside")
    html = page(client, "/payments")
    assert "Refunded to you" in html
    assert "Credit note CN-0007: refunded to the customer" in html
    assert "-$2.00" in html or "−$2.00" in html
    other = app.test_client()
    sign_in(app, other, "marine")
    html = page(other, "/payments")
    assert "refunded to the customer" in html
    assert "20 Sep 2021" not in html  # the refund's own day, 10 Sep 2021
    assert "10 Sep 2021" in html


def test_a_sales_receipt_is_a_paid_invoice_with_its_payment_and_a_copy(
    app, client, kinds, store
):
    sign_in(app, client, "dylan")
    payments = page(client, "/payments")
    assert "Check" in payments
    assert "1003</a> ($337.50)" in payments
    with store.read() as conn:
        receipt = conn.execute(
            select(I.c.id, I.c.status, I.c.balance_minor).where(I.c.number == "1003")
        ).one()
    assert (receipt.status, receipt.balance_minor) == ("paid", 0)
    html = page(client, f"/invoices/{receipt.id}")
    assert "Custom Design" in html
    # Called what the billing system called it: a sales receipt, not an invoice.
    assert "<h1>Sales receipt 1003" in html and "Invoice 1003" not in html
    # Unit prices as money, as the copy shows them (the export wrote 75).
    assert 'data-label="Unit price" class="num">$75.00</td>' in html
    pdf = client.get(f"/invoices/{receipt.id}/pdf")
    assert pdf.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "1003" in text and "337.50" in text
    assert "SALES RECEIPT" in text and "INVOICE" not in text


def test_a_statement_shows_the_sale_its_payment_and_the_refund_receipt(
    app, client, kinds
):
    sign_in(app, client, "dylan")
    html = page(client, "/statements?from=2014-09-01&to=2014-10-31")
    assert "Sales receipt 1003" in html
    assert "Invoice 1003" not in html  # the sale's own line says what it is
    assert "Refund receipt 1020: refunded to the customer" in html
