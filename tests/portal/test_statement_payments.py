"""Statements, Payments and status as a customer sees them (issue 11, items 5, 6, 7)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime

from pypdf import PdfReader
from sqlalchemy import select

from portal import create_app
from schemas.tables import Invoice
from sync.cli.demo import DEMO_CONTACT, run_demo
from sync.ledger.marks import claim_payment, confirm_claim, mark_paid
from tests.portal.conftest import sign_in


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def reported_on(app) -> str:  # type: ignore[no-untyped-def]
    """The day the fixture's export was read (the world is seeded once per session,
    maybe before midnight): A1-200's 150.00 was first reported then."""
    I = Invoice.__table__  # noqa: E741
    with app.extensions["billfold"].store.read() as conn:
        day = conn.execute(
            select(I.c.settled_first_reported_on).where(I.c.number == "A1-200")
        ).scalar_one()
    assert day is not None and day <= datetime.now(UTC).date()
    return f"{day:%d %b %Y}"


def test_a_statement_before_the_report_lists_the_invoice_paid_not_late(
    app, client, world
):
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/statements?from=2025-01-01&to=2025-12-31"))
    # A1-200 (200.00): the export says 150.00 paid, not when; it was read today.
    assert f"paid (date not in the export), first reported {reported_on(app)}" in html
    assert "Paid, date not in export" in html
    assert "Note: The billing system&#39;s exports say some invoices were paid" in html
    # Over 90 days late: A-100 100.00 and the 50.00 still due on A1-200, not 300.00.
    assert 'data-label="Over 90 days late">$150.00<' in html
    query = "from=2025-01-01&to=2025-12-31"
    data = client.get(f"/statements/download?{query}&format=csv").data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [(r["reference"], r["amount"]) for r in rows if r["type"] == "paid_date_not_in_export"] == [("A1-200", "150.00")]  # fmt: skip
    assert any(r["type"] == "note" for r in rows)
    pdf = client.get(f"/statements/download?{query}&format=pdf").data
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages
    )
    assert "paid (date not in the export), first reported" in text
    # To today the cash is a line of its own and nothing is listed apart.
    html = text_of(client.get("/statements"))
    assert "Invoice A1-200: paid (date not in the export), first reported" in html
    assert "Paid, date not in export" not in html


def test_payments_lists_cash_without_a_record_and_office_marks(app, client, world):
    store = app.extensions["billfold"].store
    with store.write() as conn:
        claim = claim_payment(
            conn, world.invoices["A-100"], world.contacts["a_parent"],
            amount_minor=10000, paid_on=datetime(2025, 4, 2).date(), reference="BACS 77",
            note=None,
        )  # fmt: skip
        confirm_claim(conn, claim, "admin:office@example.com")
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/payments"))
    assert "PAY-A2" in html  # a payment record, as before
    assert "Reported paid by the billing system on invoice A1-200" in html
    assert "$150.00" in html and "first reported; the export gives no date" in html
    assert "Recorded by our office for invoice A-100" in html and "$100.00" in html
    assert "02 Apr 2025" in html
    assert "No payments are recorded" not in html

    # Scoped: a site's contact sees that site's cash only; another tenant sees none.
    site = app.test_client()
    sign_in(app, site, "a1_only")
    html = text_of(site.get("/payments"))
    assert "A1-200" in html and "A-100" not in html
    other = app.test_client()
    sign_in(app, other, "b_user")
    html = text_of(other.get("/payments"))
    assert "A1-200" not in html and "A-100" not in html and "$150.00" not in html


def test_a_paid_mark_beyond_the_feed_is_on_payments_once(app, client, world):
    store = app.extensions["billfold"].store
    with store.write() as conn:
        # The feed already shows 150.00 paid on A1-200; the office says 200.00.
        mark_paid(
            conn, world.invoices["A1-200"], paid_on=datetime(2025, 5, 1).date(),
            actor="admin:office@example.com", amount_minor=20000,
        )  # fmt: skip
    sign_in(app, client, "a_parent")
    html = text_of(client.get("/payments"))
    assert "Recorded by our office for invoice A1-200" in html and "$50.00" in html
    assert "Reported paid by the billing system on invoice A1-200" in html


def test_the_demo_customer_sees_the_payments_the_statement_lists(
    store, settings, tmp_path
):
    run_demo(store, settings, lambda _line: None)
    app = create_app(replace(settings, base_url="https://portal.example"), store=store)
    app.config["TESTING"] = True
    client = app.test_client()
    sign_in(app, client, DEMO_CONTACT.split("@")[0])
    statement = text_of(client.get("/statements?from=2025-01-01"))
    payments = text_of(client.get("/payments"))
    assert "No payments are recorded" not in payments
    for number in ("N-501", "N-503"):
        assert f"Invoice {number}: paid" in statement
        assert f"Reported paid by the billing system on invoice {number}" in payments


def test_status_is_the_settlement_state_and_overdue_a_flag(app, client, world):
    sign_in(app, client, "a_parent")
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/invoices.csv").data.decode("utf-8-sig"))
        )
    )
    by_number = {r["number"]: (r["status"], r["overdue"]) for r in rows}
    assert by_number == {
        "A-100": ("unpaid", "yes"),
        "A1-200": ("partially_paid", "yes"),
        "A2-300": ("paid", "no"),
    }
    html = text_of(client.get(f"/invoices/{world.invoices['A1-200']}"))
    assert "badge-partially_paid" in html and "badge-overdue" in html
