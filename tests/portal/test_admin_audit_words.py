"""Admin: the audit log reads in human terms. Each event is a sentence with names
(account and site, contact address, invoice number, file name) instead of ids and money
with its currency; never "None", "null", JSON or a Python repr; hostile names stay
escaped; every action the code writes has its words."""

from __future__ import annotations

import ast
import html
import re
from datetime import date
from pathlib import Path

from sqlalchemy import event, insert

from portal.admin.audit_words import LABELS, SENTENCES
from schemas.tables import IMPORT_BATCHES, PAYMENTS, utcnow
from sync.ledger.marks import mark_paid
from sync.store.audit import record
from tests.portal.test_admin import page
from tests.portal.test_admin_contacts import admin_client

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = '<img src=x onerror="alert(1)">.csv'


def sentences(html_text: str) -> list[str]:
    """The 'What happened' cell of every row, as the office manager reads it."""
    cells = re.findall(
        r'data-label="What happened" class="break detail"><div class="cell">(.*?)</div>',
        html_text,
        re.S,
    )
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def _seed_events(app, world) -> dict[str, int]:
    store = app.extensions["billfold"].store
    admin = "admin:office@harbor.example"
    a100, a1 = world.invoices["A-100"], world.accounts["A:Elm Court"]
    b_user = world.contacts["b_user"]
    with store.write() as conn:
        batch = conn.execute(
            insert(IMPORT_BATCHES)
            .values(source="books", file_name=HOSTILE, sha256="f" * 64, size=10,
                    status="applied", started_at=utcnow(), finished_at=utcnow())
            .returning(IMPORT_BATCHES.c.id)
        ).scalar_one()  # fmt: skip
        payment = conn.execute(
            insert(PAYMENTS)
            .values(source="books", external_id="P-1", account_id=world.accounts["A"],
                    received_on=date(2026, 3, 4), currency="USD", amount_minor=12345,
                    content_hash="x")
            .returning(PAYMENTS.c.id)
        ).scalar_one()  # fmt: skip
        mark_paid(
            conn, a100, paid_on=date(2026, 3, 3), actor=admin, amount_minor=4000,
            method="cheque", reference="CHQ 12",
        )  # fmt: skip
        record(conn, admin, "grant_added", account_id=a1, record_kind="contact",
               record_id=b_user, role="documents")  # fmt: skip
        record(conn, admin, "publish_import", record_kind="import_batch",
               record_id=batch, applied=batch)  # fmt: skip
        record(conn, f"contact:{b_user}", "download_invoices_zip", count=2,
               invoices=[a100, world.invoices["A1-200"]])  # fmt: skip
        record(conn, f"contact:{b_user}", "view_payment",
               account_id=world.accounts["A"], record_kind="payment",
               record_id=payment)  # fmt: skip
        record(conn, f"contact:{b_user}", "download_statement",
               account_id=world.accounts["A"], format="pdf", start=date(2026, 1, 1),
               end=date(2026, 3, 31))  # fmt: skip
        record(conn, admin, "link_document", account_id=world.accounts["A"],
               record_kind="document", record_id=world.documents["contract-B.pdf"],
               kind="job_sheet", invoice_id=a100, credit_note_id=None)  # fmt: skip
        record(conn, admin, "upload_import", record_kind="import_batch",
               record_id=batch, file=HOSTILE, source="books", status="duplicate")  # fmt: skip
        record(conn, admin, "export_audit_csv", count=3,
               filters={"account_id": world.accounts["B"], "action": "sign_in"})  # fmt: skip
    return {"batch": batch, "payment": payment}


def test_every_event_reads_as_a_sentence_with_names_and_money(app, world):
    office = admin_client(app)
    _seed_events(app, world)
    shown = page(office, "/admin/audit")
    said = sentences(shown)
    expected = [
        "Marked invoice A-100 paid: $40.00 settled on 03 Mar 2026 by cheque, "
        "reference CHQ 12.",
        "Gave b_user@example.com access to Alder Property Group › Elm Court with the "
        "documents role (no amounts).",
        f"Published the import of {HOSTILE}: customers see it from now on.",
        "Downloaded 2 invoice PDFs in one ZIP: A-100, A1-200.",
        "Viewed the receipt of a payment of $123.45 received 04 Mar 2026.",
        "Downloaded a statement (PDF) for Alder Property Group, 01 Jan 2026 to "
        "31 Mar 2026.",
        "Filed contract-B.pdf as a job sheet under invoice A-100.",
        f"Uploaded {HOSTILE} into source books: a repeat of an earlier file, nothing "
        "changed.",
        "Downloaded the audit log as CSV (3 events), filtered by account Birch "
        "Dental; action sign_in.",
    ]
    for sentence in expected:
        assert sentence in said, (sentence, said)
    for text in said:
        for raw in ("None", "null", "{", "[", "'", "_id"):
            assert raw not in text.replace(HOSTILE, ""), (raw, text)
    # Names, never ids: the Record column names the batch by its file, escaped.
    assert "<img src=x" not in shown
    assert "&lt;img src=x onerror=" in shown
    assert "Import of &lt;img" in shown
    assert "Marked paid" in shown and "Gave access" in shown


def test_the_csv_carries_the_same_sentences(app, world):
    office = admin_client(app)
    _seed_events(app, world)
    data = office.get("/admin/audit.csv").get_data(as_text=True)
    assert "Marked invoice A-100 paid: $40.00 settled on 03 Mar 2026 by cheque" in data
    assert '"{' not in data and "None" not in data


def test_the_page_names_its_records_with_one_query_per_kind(app, world):
    office = admin_client(app)
    _seed_events(app, world)
    store = app.extensions["billfold"].store
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        few = sentences(page(office, "/admin/audit"))
        few_queries = len(statements)
        with store.write() as conn:
            for _ in range(30):
                record(conn, "admin:office@harbor.example", "view_invoice",
                       record_kind="invoice", record_id=world.invoices["B-400"])  # fmt: skip
        statements.clear()
        many = sentences(page(office, "/admin/audit"))
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(many) > len(few) + 20
    assert "Viewed invoice B-400." in many
    assert len(statements) <= few_queries + 1


def _written_actions() -> set[str]:
    """Every action string the code hands to the audit log."""
    found: set[str] = set()  # "cli" is an actor, not an action
    names = {"record", "audit", "_audit", "_record_on_invoice"}
    for folder in ("sync", "portal"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = getattr(func, "id", getattr(func, "attr", None))
                if name not in names:
                    continue
                for arg in node.args:
                    value = arg.value if isinstance(arg, ast.Constant) else None
                    if isinstance(value, str) and re.fullmatch(r"[a-z_]+", value):
                        found.add(value)
    return found


def test_every_action_the_code_writes_has_a_label_and_a_sentence():
    written = _written_actions() - {"cli"} | {"portal_enabled", "portal_disabled"}
    assert {"mark_paid", "revoke", "view_invoice", "upload_import"} <= written
    missing = sorted(a for a in written if a not in LABELS or a not in SENTENCES)
    assert missing == []


def test_a_filter_on_a_contact_names_them_even_with_no_events(app, world):
    office = admin_client(app)
    quiet = world.contacts["d_user"]
    shown = page(office, f"/admin/audit?contact_id={quiet}&action=view_invoice")
    assert "Also limited to d_user@example.com." in re.sub(r"\s+", " ", shown)
    assert "No events match." in shown
