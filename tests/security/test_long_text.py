"""FILE-08, huge text (issue 11, item 10): every imported text field has a maximum, and
whatever the store already holds, every page, PDF, ZIP and statement still renders.

A value longer than its field's limit (``schemas.limits``) rejects its record, naming the
export's own column, the limit and what to do; the rest of the file applies. Records
stored before the limits existed (put straight into the database here) still render:
PDFs clip and wrap them, so a layout never fails.
"""

from __future__ import annotations

import io
import zipfile

from pypdf import PdfReader
from sqlalchemy import select, update

from schemas.limits import LIMITS
from schemas.tables import (
    ACCOUNTS,
    CREDIT_NOTES,
    INVOICE_LINES,
    INVOICES,
    PAYMENTS,
)
from tests.adapters.test_quickbooks_report import IL_HEADER, il_row, report_csv
from tests.helpers import run_import, write_csv
from tests.portal.conftest import csrf_from, sign_in
from tests.portal.test_admin import page
from tests.portal.test_admin_contacts import admin_client

HUGE = "x" * 1_000_000  # one unbroken "word"
WORDS = "Replaced the valve and tested. " * 40_000  # 1.2 MB of ordinary words


def test_text_longer_than_its_limit_rejects_its_record_naming_the_column(
    store, settings, tmp_path
):
    memo_limit = LIMITS["memo"].maximum
    header = ["Invoice No", "Client", "Date", "Amount", "Notes"]
    rows = [
        ["L-1", "Alder", "2025-03-01", "10.00", "n" * memo_limit],  # at the limit
        ["L-2", "Birch", "2025-03-01", "10.00", "n" * (memo_limit + 1)],
        ["9" * 3000, "Cedar", "2025-03-01", "10.00", ""],
        ["L-4", "D" * 501, "2025-03-01", "10.00", ""],
    ]
    result = run_import(store, settings, write_csv(tmp_path / "long.csv", header, rows))
    assert (result.status, result.created) == ("applied", 1)
    memo, number, name = result.rejected
    assert (memo["line"], memo["record"], memo["column"]) == (3, "invoice L-2", "Notes")
    assert "at most 4,000 characters in Notes" in memo["reason"]
    assert "found 4,001" in memo["reason"] and "export again" in memo["reason"]
    assert memo["value"] == "n" * 60 + "… (4,001 characters)"
    assert (number["column"], len(number["record"])) == ("Invoice No", 300)
    assert "at most 255 characters" in number["reason"]
    assert (name["column"], name["record"]) == ("Client", "invoice L-4")


def test_a_report_names_its_own_column(store, settings, tmp_path):
    body = [
        il_row("1001", "Alder", "10.00", "10.00", memo="m" * 5000),
        il_row("1002", "Birch", "10.00", "10.00"),
    ]
    path = tmp_path / "il.csv"
    path.write_bytes(report_csv(IL_HEADER, body, title="Invoice List"))
    result = run_import(store, settings, path)
    assert result.created == 1
    [rejected] = result.rejected
    assert rejected["column"] == "Memo/Description"
    assert "at most 4,000 characters in Memo/Description" in rejected["reason"]


def test_a_documents_manifest_has_limits_too(store, settings, tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_bytes(
        b"file,account,record,kind\n"
        + b"a" * 300 + b".pdf,C1,,job sheet\n"
        + b"ok.pdf," + b"C" * 2000 + b",,job sheet\n"
        + b"fine.pdf,C1,1001,job sheet\n"
    )  # fmt: skip
    result = run_import(store, settings, path)
    assert (result.adapter, result.created) == ("manifest", 1)
    assert [(r["line"], r["column"]) for r in result.rejected] == [
        (2, "file"),
        (3, "account"),
    ]
    assert "at most 255 characters in file" in result.rejected[0]["reason"]


def test_everything_renders_whatever_length_the_store_holds(app, client, world, store):
    """Oversized values written straight into the store (as an import before the limits
    could have): the invoice PDF, a ZIP, the statement PDF and CSV and every page come
    back, and the PDFs are real documents."""
    invoice_id = world.invoices["A1-200"]
    I, L = INVOICES, INVOICE_LINES  # noqa: E741
    C, P, A = CREDIT_NOTES, PAYMENTS, ACCOUNTS
    with store.write() as conn:
        conn.execute(
            update(I)
            .where(I.c.id == invoice_id)
            .values(
                number="9" * 3000, reference="R" * 5000, memo=HUGE + " " + WORDS,
                pay_url="https://pay.example/" + "p" * 100_000, status="unpaid",
            )
        )  # fmt: skip
        conn.execute(
            L.insert().values(
                invoice_id=invoice_id, position=1, description=WORDS, item="I" * 10_000,
                quantity="1" * 3000, unit_price="2" * 3000, amount_minor=100,
            )
        )  # fmt: skip
        conn.execute(
            L.insert().values(
                invoice_id=invoice_id, position=2, description=HUGE, amount_minor=100
            )
        )
        conn.execute(update(C).values(number="C" * 3000, memo=HUGE))
        conn.execute(update(P).values(reference="P" * 3000, memo=WORDS, method=HUGE))
        site = world.accounts["A:Elm Court"]
        conn.execute(
            update(A)
            .where(A.c.id == site)
            .values(name="Elm " * 5000, email="e" * 3000 + "@example.com")
        )
        conn.execute(
            update(A)
            .where(A.c.id == world.accounts["A"])
            .values(name="N" * 5000, external_key="K" * 5000)
        )
    sign_in(app, client, "a_parent")
    pdf = client.get(f"/invoices/{invoice_id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "INVOICE" in text and "999999" in text
    assert len(pdf.headers["Content-Disposition"]) < 1000
    listing = client.get("/invoices").get_data(as_text=True)
    zipped = client.post(
        "/invoices/download",
        data={"csrf_token": csrf_from(listing), "invoice": [str(invoice_id)]},
    )
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as archive:
        [member] = archive.namelist()
        assert PdfReader(io.BytesIO(archive.read(member))).pages
    for fmt in ("pdf", "csv"):
        statement = client.get(
            f"/statements/download?from=2025-01-01&to=2025-12-31&format={fmt}"
        )
        assert statement.status_code == 200, fmt
    assert PdfReader(io.BytesIO(statement_pdf(client))).pages
    for path in (
        "/", "/invoices", f"/invoices/{invoice_id}", "/credit-notes",
        f"/credit-notes/{world.credit_notes['CN-A1']}", "/payments",
        "/statements?from=2025-01-01&to=2025-12-31", "/documents",
    ):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, path
        assert len(response.data) < 2_000_000, path  # the megabyte memo is clipped
    office = admin_client(app)
    for path in (f"/admin/invoices/{invoice_id}", "/admin/accounts", "/admin/invoices"):
        assert page(office, path)
    with store.read() as conn:
        assert conn.execute(select(I.c.memo).where(I.c.id == invoice_id)).scalar_one()


def statement_pdf(client) -> bytes:
    return client.get(
        "/statements/download?from=2025-01-01&to=2025-12-31&format=pdf"
    ).data
