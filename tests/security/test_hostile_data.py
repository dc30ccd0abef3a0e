"""OUT, ACL and HDR rows: imported text is hostile everywhere it is shown; scope fails
closed; documents follow their records; no debug output; double submits are harmless."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import text, update

from schemas.tables import ACCOUNTS, DOCUMENTS
from sync.access import contacts, grants
from sync.access.mail import Message, _clean_header
from sync.errors import UsageError
from sync.ledger.marks import mark_paid
from sync.log import _quote
from sync.store.blobs import put_document
from tests.helpers import GENERIC_HEADER, run_import, write_csv
from tests.portal.conftest import csrf_from, sign_in
from tests.portal.test_admin import admin_sign_in

PAYLOADS = {
    "script": "<script>alert('x')</script>",
    "attr": '"><img src=x onerror=alert(1)>',
    "template": "{{7*7}}{% raw %}",
    "event": "' onmouseover='alert(1)",
    "formula": "=cmd|' /C calc'!A0",
    "bidi": "INV\u202e1234",
}
# What must never reach a page unescaped (escaped forms like &lt;script&gt; are fine).
RAW_MARKERS = ("<script>alert", "<img src=x", "onmouseover='alert")


def hostile_import(store, settings, tmp_path) -> None:
    p = PAYLOADS
    row = dict.fromkeys(GENERIC_HEADER, "")
    row.update(
        record_type="invoice", number=p["bidi"] + p["attr"], customer_id="H1",
        customer_name="Evil " + p["script"], customer_email="evil@example.com",
        issue_date="2025-03-01", due_date="2025-03-31", currency="USD", total="99.00",
        balance_due="99.00", memo=p["template"] + p["event"], line_no="1",
        line_description=p["formula"], line_quantity="1", line_unit_price="99.00",
        line_amount="99.00",
    )  # fmt: skip
    header = [*GENERIC_HEADER, "reference", "pay_url"]
    rows = [
        [
            *(row[h] for h in GENERIC_HEADER),
            p["attr"],
            "javascript:alert(document.cookie)",
        ]
    ]
    credit = dict(
        row,
        record_type="credit_note",
        number="CN" + p["script"],
        memo=p["script"],
        total="5.00",
        balance_due="5.00",
    )
    rows.append([*(credit[h] for h in GENERIC_HEADER), p["script"], ""])
    result = run_import(
        store,
        settings,
        write_csv(tmp_path / (p["attr"] + ".csv").replace("/", "_"), header, rows),
        source="books",
    )
    assert result.status == "applied" and result.rejected == [], result
    with store.write(ledger=False) as conn:
        conn.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.external_key == "H1")
            .values(portal_enabled=True)
        )
        contact = contacts.ensure_contact(conn, "evil.viewer@example.com")
        account_id = conn.execute(
            text("SELECT id FROM account WHERE external_key = 'H1'")
        ).scalar_one()
        grants.grant_access(conn, contact, account_id, "billing")
        sha, key = put_document(settings, b"%PDF-1.4 hostile doc")
        conn.execute(
            DOCUMENTS.insert().values(
                sha256=sha, kind="job_sheet", file_name=PAYLOADS["script"] + ".pdf",
                content_type="application/pdf", size=20, storage_key=key, account_id=account_id,
            )
        )  # fmt: skip


def hostile_invoice(conn) -> int:
    return conn.execute(
        text(
            "SELECT i.id FROM invoice i JOIN account a ON a.id = i.account_id WHERE a.external_key = 'H1'"
        )
    ).scalar_one()


def assert_inert(html: str, where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, (where, marker)
    assert 'href="javascript:' not in html, where
    assert "{{7*7}}" in html or "7*7" not in html, (
        where
    )  # templates never evaluate data


def test_out01_every_customer_page_shows_imported_text_as_text(
    app, client, world, store, portal_settings, tmp_path
):
    hostile_import(store, portal_settings, tmp_path)
    sign_in(app, client, "evil.viewer")
    with store.read() as conn:
        invoice_id = hostile_invoice(conn)
        credit_id = conn.execute(
            text(
                "SELECT c.id FROM credit_note c JOIN account a ON a.id = c.account_id WHERE a.external_key = 'H1'"
            )
        ).scalar_one()
    pages = [
        "/",
        "/invoices",
        f"/invoices/{invoice_id}",
        "/credit-notes",
        f"/credit-notes/{credit_id}",
        "/payments",
        "/statements?from=2025-01-01&to=2025-12-31",
        "/documents",
        "/invoices?q=%3Cscript%3E",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.get_data(as_text=True), path)
    detail = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in detail
    assert "Pay online" not in detail  # a javascript: pay link is never offered


def test_out03_pdfs_draw_imported_text_literally(
    app, client, world, store, portal_settings, tmp_path
):
    hostile_import(store, portal_settings, tmp_path)
    sign_in(app, client, "evil.viewer")
    with store.read() as conn:
        invoice_id = hostile_invoice(conn)
    pdf = client.get(f"/invoices/{invoice_id}/pdf").data
    page = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Evil <script>alert('x')</script>" in page
    assert "{{7*7}}" in page


def test_out04_csv_exports_neutralise_formulas_and_keep_negative_amounts(
    app, client, world, store, portal_settings, tmp_path
):
    hostile_import(store, portal_settings, tmp_path)
    sign_in(app, client, "evil.viewer")
    for path in (
        "/invoices.csv",
        "/statements/download?format=csv&from=2025-01-01&to=2025-12-31",
    ):
        rows = list(csv.reader(io.StringIO(client.get(path).data.decode("utf-8-sig"))))
        header = rows[0]
        money = {
            i
            for i, name in enumerate(header)
            if name in ("amount", "balance", "total", "paid", "credited", "balance_due")
        }
        for row in rows[1:]:
            for i, cell in enumerate(row):
                if i not in money:
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (
                        path,
                        cell,
                    )
        statement_amounts = [
            row[header.index("amount")]
            for row in rows[1:]
            if "amount" in header and row[header.index("amount")]
        ]
        if statement_amounts:
            assert (
                "-5.00" in statement_amounts
            )  # the credit note stays a negative number


def test_out01_admin_pages_show_imported_text_as_text(
    app, client, world, store, portal_settings, tmp_path
):
    hostile_import(store, portal_settings, tmp_path)
    admin_sign_in(app, client)
    with store.read() as conn:
        invoice_id = hostile_invoice(conn)
        batch_id = conn.execute(text("SELECT max(id) FROM import_batch")).scalar_one()
    for path in (
        "/admin/",
        "/admin/imports",
        f"/admin/imports/{batch_id}",
        "/admin/invoices?q=Evil",
        f"/admin/invoices/{invoice_id}",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.get_data(as_text=True), path)


def test_out07_no_header_injection_through_names(app):
    assert (
        _clean_header("Harbor\r\nBcc: victim@example.com")
        == "Harbor Bcc: victim@example.com"
    )
    message = Message("a@example.com", "Hi\nBcc: x@example.com", "body")
    assert "\n" not in _clean_header(message.subject)


def test_out08_log_lines_cannot_be_forged():
    forged = 'ok\nts=2026 level=INFO event=import.applied file="fake"'
    assert "\n" not in _quote(forged)
    assert _quote(forged).startswith('"') and "\\n" in _quote(forged)


def test_acl06_forms_ignore_fields_they_do_not_expect(app, client, world, store):
    sign_in(app, client, "a_parent")
    html = client.get(f"/invoices/{world.invoices['A-100']}").get_data(as_text=True)
    client.post(
        f"/invoices/{world.invoices['A-100']}/paid",
        data={"csrf_token": csrf_from(html), "amount": "10.00", "paid_on": "2025-06-01",
              "contact_id": world.contacts["b_user"], "invoice_id": world.invoices["B-400"], "state": "confirmed"},
    )  # fmt: skip
    with store.read() as conn:
        claim = conn.execute(
            text("SELECT contact_id, invoice_id, state FROM payment_claim")
        ).one()
    assert tuple(claim) == (
        world.contacts["a_parent"],
        world.invoices["A-100"],
        "pending",
    )


def test_acl09_documents_follow_an_invoice_moved_to_another_customer(
    app, client, world, store, portal_settings, tmp_path
):
    header = [h for h in GENERIC_HEADER if not h.startswith("line_")]
    base = dict.fromkeys(header, "")
    base.update(
        record_type="invoice",
        number="MOVE-1",
        issue_date="2025-03-01",
        currency="USD",
        total="10.00",
        balance_due="10.00",
    )
    first = dict(
        base,
        customer_id="A",
        customer_name="Alder Property Group",
        updated_at="2025-03-01T00:00:00Z",
    )
    run_import(
        store,
        portal_settings,
        write_csv(tmp_path / "m1.csv", header, [[first[h] for h in header]]),
        source="books",
    )
    with store.write(ledger=False) as conn:
        invoice_id = conn.execute(
            text("SELECT id FROM invoice WHERE number = 'MOVE-1'")
        ).scalar_one()
        sha, key = put_document(portal_settings, b"%PDF-1.4 moved")
        conn.execute(
            DOCUMENTS.insert().values(
                sha256=sha,
                kind="invoice_copy",
                file_name="MOVE-1.pdf",
                content_type="application/pdf",
                size=14,
                storage_key=key,
                account_id=world.accounts["A"],
                invoice_id=invoice_id,
            )
        )
    second = dict(
        base,
        customer_id="B",
        customer_name="Birch Dental",
        updated_at="2025-04-01T00:00:00Z",
    )
    run_import(
        store,
        portal_settings,
        write_csv(tmp_path / "m2.csv", header, [[second[h] for h in header]]),
        source="books",
    )
    sign_in(app, client, "a_parent")
    assert "MOVE-1.pdf" not in client.get("/documents").get_data(as_text=True)
    other = app.test_client()
    sign_in(app, other, "b_user")
    assert "MOVE-1.pdf" in other.get("/documents").get_data(as_text=True)


def test_acl11_scope_failure_fails_closed(app, client, world, monkeypatch):
    sign_in(app, client, "a_parent")

    def broken(*args, **kwargs):
        raise RuntimeError("scope store went away")

    # The scope is decided with the session, in the visit (sync.access.visits).
    monkeypatch.setattr("sync.access.visits.visible_from", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/invoices")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "A-100" not in body and "Traceback" not in body and "scope store" not in body


def test_hdr02_no_debug_mode(app):
    assert (not app.debug and not app.testing) or app.config["TESTING"]
    from portal import create_app

    fresh = create_app(
        app.extensions["billfold"].settings, store=app.extensions["billfold"].store
    )
    assert fresh.debug is False


def test_csrf04_double_submitted_marks_never_double_count(store, world):
    for attempt in range(2):
        with store.write() as conn:
            if attempt:  # the second submission would change nothing: refused
                with pytest.raises(UsageError, match="would change nothing"):
                    mark_paid(
                        conn, world.invoices["A-100"], paid_on=date(2025, 6, 1),
                        actor="admin:x", amount_minor=4000,
                    )  # fmt: skip
                continue
            mark_paid(
                conn,
                world.invoices["A-100"],
                paid_on=date(2025, 6, 1),
                actor="admin:x",
                amount_minor=4000,
            )
    with store.read() as conn:
        balance, states = (
            conn.execute(
                text("SELECT balance_minor FROM invoice WHERE number = 'A-100'")
            ).scalar_one(),
            [
                r[0]
                for r in conn.execute(text("SELECT state FROM paid_mark ORDER BY id"))
            ],
        )
    assert balance == 6000
    assert states == ["active"]
