"""The invoice copy a customer sees, on the page and in the PDF, with what the billing
system's file said beside the figures; and the invite form offering the account's
email (issue 13, items 5 and 6)."""

from __future__ import annotations

import io
import re
from html import unescape

from pypdf import PdfReader
from sqlalchemy import select, update

from schemas.tables import Account, Invoice
from sync.access.contacts import ensure_contact
from sync.access.grants import grant_access
from tests.conftest import SAMPLES
from tests.helpers import run_import
from tests.portal.conftest import sign_in
from tests.portal.test_admin import admin_sign_in, page

QBO = SAMPLES / "real_world" / "qbo_invoice_copy_details.json"
A = Account.__table__  # type: ignore[attr-defined]
I = Invoice.__table__  # type: ignore[attr-defined]  # noqa: E741
MEMO = "Thank you for your business and have a great day!"


def cool_cars(app, portal_settings) -> tuple[int, int]:
    """Import the QuickBooks sample; return (account id, invoice 1037's id), with a
    billing contact signed in as cool_cars@example.com."""
    store = app.extensions["billfold"].store
    result = run_import(store, portal_settings, QBO, source="qbo")
    assert result.status == "applied"
    with store.write() as conn:
        account_id = conn.execute(
            select(A.c.id).where(A.c.source == "qbo", A.c.external_key == "3")
        ).scalar_one()
        conn.execute(update(A).where(A.c.id == account_id).values(portal_enabled=True))
        contact = ensure_contact(conn, "cool_cars@example.com", "Grace")
        grant_access(conn, contact, account_id, "billing")
        invoice_id = conn.execute(
            select(I.c.id).where(I.c.number == "1037")
        ).scalar_one()
    return account_id, invoice_id


def visible_text(html: str) -> str:
    main = html.split("<main", 1)[-1]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))


def test_invoice_page_shows_terms_lines_by_kind_payment_method_and_attachments(
    app, client, portal_settings
):
    _, invoice_id = cool_cars(app, portal_settings)
    sign_in(app, client, "cool_cars")
    html = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    shown = visible_text(html)
    assert "Terms Net 30" in shown
    assert '<tr class="line-subtotal">' in html and '<tr class="line-discount">' in html
    assert "Subtotal $420.00" in shown
    assert "Discount 10% -$42.00" in shown or "Discount 10% −$42.00" in shown
    assert "Tax $30.24" in shown and "Total $408.24" in shown
    assert "Balance due $208.24" in shown
    assert "Payment 4391 (Check)" in shown
    assert "fountain-site-photo.jpg not yet fetched" in shown
    assert shown.count(MEMO) == 1


def test_invoice_pdf_shows_the_same_copy_and_the_memo_once(
    app, client, portal_settings
):
    _, invoice_id = cool_cars(app, portal_settings)
    sign_in(app, client, "cool_cars")
    response = client.get(f"/invoices/{invoice_id}/pdf")
    assert response.status_code == 200
    words = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages
    )
    words = re.sub(r"\s+", " ", words)
    for expected in (
        "Terms Net 30", "Subtotal $420.00", "Discount 10% -$42.00", "Tax $30.24",
        "Total $408.24", "Payment 4391 (Check)",
        "Attachments (not yet fetched): fountain-site-photo.jpg",
    ):  # fmt: skip
        assert expected in words, (expected, words)
    assert words.count(MEMO) == 1


def test_a_copy_without_lines_does_not_make_its_memo_a_line(
    app, client, portal_settings, tmp_path
):
    import json

    data = json.loads(QBO.read_text())
    invoices = data["BatchItemResponse"][2]["QueryResponse"]["Invoice"]
    invoices[0]["Line"] = []
    path = tmp_path / "no_lines.json"
    path.write_text(json.dumps(data))
    QBO_NO_LINES = path
    store = app.extensions["billfold"].store
    run_import(store, portal_settings, QBO_NO_LINES, source="qbo")
    with store.write() as conn:
        account_id = conn.execute(
            select(A.c.id).where(A.c.source == "qbo", A.c.external_key == "3")
        ).scalar_one()
        conn.execute(update(A).where(A.c.id == account_id).values(portal_enabled=True))
        grant_access(
            conn, ensure_contact(conn, "cool_cars@example.com"), account_id, "billing"
        )
        invoice_id = conn.execute(
            select(I.c.id).where(I.c.number == "1037")
        ).scalar_one()
    sign_in(app, client, "cool_cars")
    pdf = client.get(f"/invoices/{invoice_id}/pdf").data
    words = re.sub(
        r"\s+",
        " ",
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages),
    )
    assert "No line items were recorded for this invoice. $408.24" in words
    assert words.count(MEMO) == 1
    shown = visible_text(client.get(f"/invoices/{invoice_id}").get_data(as_text=True))
    assert shown.count(MEMO) == 1


def test_invite_form_offers_the_accounts_email_and_lets_it_be_changed(
    app, portal_settings
):
    account_id, _ = cool_cars(app, portal_settings)
    admin = app.test_client()
    admin_sign_in(app, admin)
    html = page(admin, f"/admin/contacts/invite?account={account_id}")
    assert re.search(r'id="email" name="email"[^>]*value="Cool_Cars@intuit.com"', html)
    assert re.search(rf'name="account" value="{account_id}" checked', html)
    # An address in the link (from a contact's page) wins; it stays an editable field.
    html = page(admin, f"/admin/contacts/invite?account={account_id}&email=x@y.example")
    assert re.search(
        r'<input id="email" name="email" type="email"[^>]*value="x@y.example"', html
    )


def test_credit_note_page_shows_its_tax_mode_and_attachments(
    app, client, portal_settings, tmp_path
):
    import json

    note = {
        "Type": "ACCRECCREDIT", "CreditNoteID": "cn-77", "CreditNoteNumber": "CN-0077",
        "Status": "AUTHORISED", "LineAmountTypes": "Inclusive", "CurrencyCode": "NZD",
        "Date": "2026-11-20", "Total": 57.5, "SubTotal": 50, "TotalTax": 7.5,
        "RemainingCredit": 57.5, "HasAttachments": True,
        "Attachments": [{"AttachmentID": "att-1", "FileName": "returned-parts.pdf",
                         "MimeType": "application/pdf", "ContentLength": 912}],
        "Contact": {"ContactID": "c-77", "Name": "Marina Kiosk"},
        "LineItems": [{"Description": "Returned filter", "LineAmount": 57.5, "TaxAmount": 7.5}],
    }  # fmt: skip
    path = tmp_path / "credit_notes.json"
    path.write_text(json.dumps({"Id": "x", "Status": "OK", "CreditNotes": [note]}))
    store = app.extensions["billfold"].store
    assert run_import(store, portal_settings, path, source="xero").status == "applied"
    from schemas.tables import CreditNote

    C = CreditNote.__table__
    with store.write() as conn:
        account_id = conn.execute(
            select(A.c.id).where(A.c.source == "xero")
        ).scalar_one()
        conn.execute(update(A).where(A.c.id == account_id).values(portal_enabled=True))
        grant_access(
            conn, ensure_contact(conn, "kiosk@example.com"), account_id, "billing"
        )
        note_id = conn.execute(
            select(C.c.id).where(C.c.number == "CN-0077")
        ).scalar_one()
    sign_in(app, client, "kiosk")
    shown = visible_text(client.get(f"/credit-notes/{note_id}").get_data(as_text=True))
    assert "Amounts Tax inclusive" in shown
    assert "returned-parts.pdf not yet fetched" in shown


def test_hostile_terms_and_attachment_names_are_only_ever_text(
    app, client, portal_settings, tmp_path
):
    import json

    hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    data = json.loads(QBO.read_text())
    for part in data["BatchItemResponse"]:
        found = part["QueryResponse"]
        if "Term" in found:
            found["Term"][0]["Name"] = hostile
        if "Attachable" in found:
            found["Attachable"][0]["FileName"] = hostile + ".pdf"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data))
    store = app.extensions["billfold"].store
    assert run_import(store, portal_settings, path, source="qbo").status == "applied"
    with store.write() as conn:
        account_id = conn.execute(
            select(A.c.id).where(A.c.source == "qbo", A.c.external_key == "3")
        ).scalar_one()
        conn.execute(update(A).where(A.c.id == account_id).values(portal_enabled=True))
        grant_access(
            conn, ensure_contact(conn, "cool_cars@example.com"), account_id, "billing"
        )
        invoice_id = conn.execute(
            select(I.c.id).where(I.c.number == "1037")
        ).scalar_one()
    sign_in(app, client, "cool_cars")
    html = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    pdf = client.get(f"/invoices/{invoice_id}/pdf")
    assert pdf.status_code == 200
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "alert('x')" in re.sub(r"\s+", "", words) or "alert(" in words


def test_admin_sees_the_copy_facts_and_every_attachment_to_fetch(
    app, portal_settings, tmp_path
):
    import json

    store = app.extensions["billfold"].store
    # An Attachable whose invoice is in no file yet is listed too, never lost.
    data = json.loads(QBO.read_text())
    orphan = copy_of_attachable(data, "999", "signed-quote.pdf")
    path = tmp_path / "orphan.json"
    path.write_text(json.dumps({"QueryResponse": {"Attachable": [orphan]}}))
    run_import(store, portal_settings, path, source="qbo")
    _, invoice_id = cool_cars(app, portal_settings)
    admin = app.test_client()
    admin_sign_in(app, admin)
    shown = visible_text(page(admin, f"/admin/invoices/{invoice_id}"))
    assert "Terms Net 30" in shown
    assert "Attachment fountain-site-photo.jpg not yet fetched" in shown
    listed = visible_text(page(admin, "/admin/documents"))
    assert "2 to fetch" in listed
    assert "fountain-site-photo.jpg qbo invoice 1037" in listed
    assert "signed-quote.pdf qbo invoice 999 (not imported yet)" in listed


def copy_of_attachable(data: dict, invoice_ref: str, name: str) -> dict:
    import copy

    for part in data["BatchItemResponse"]:
        if "Attachable" in part["QueryResponse"]:
            found = copy.deepcopy(part["QueryResponse"]["Attachable"][0])
            found["Id"], found["FileName"] = "77", name
            found["AttachableRef"][0]["EntityRef"]["value"] = invoice_ref
            return found
    raise KeyError("Attachable")
