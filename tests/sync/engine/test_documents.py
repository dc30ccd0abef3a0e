"""Documents: sniffed by content, stored by digest, linked by name or manifest, never dropped."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from sqlalchemy import select

from schemas.tables import (
    ACCOUNTS,
    AUDIT_EVENTS,
    DOCUMENTS,
    IMPORT_BATCHES,
    INVOICES,
    MANIFEST_ENTRIES,
)
from sync.config import SourceSettings, StorageSettings
from sync.engine.documents import incoming, links
from sync.errors import UsageError
from sync.store.blobs import read_blob
from tests.helpers import SAMPLE_LEDGER, run_import

D = DOCUMENTS
I = INVOICES  # noqa: E741
A = ACCOUNTS
M = MANIFEST_ENTRIES
B = IMPORT_BATCHES


def pdf(text: str) -> bytes:
    return b"%PDF-1.4\n% " + text.encode() + b"\n%%EOF\n"


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 24


@pytest.fixture
def docs_settings(settings):
    return replace(
        settings,
        sources=(
            SourceSettings(
                name="harbor", path="/in", document_patterns=("INV-{number}.pdf",)
            ),
            SourceSettings(name="scans", path="/scans"),
        ),
    )


def _doc(store, name):
    with store.read() as conn:
        return conn.execute(select(D).where(D.c.file_name == name)).one()


def _invoice(store, number):
    with store.read() as conn:
        return conn.execute(select(I).where(I.c.number == number)).one()


def _account(store, key):
    with store.read() as conn:
        return conn.execute(select(A).where(A.c.external_key == key)).one()


def _drop(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_content_type_comes_from_the_bytes_not_the_name():
    assert incoming.sniff_content_type(pdf("x")) == "application/pdf"
    assert incoming.sniff_content_type(PNG) == "image/png"
    assert incoming.sniff_content_type(JPEG) == "image/jpeg"
    assert incoming.sniff_content_type(b"number,total\n1001,5\n") is None


def test_number_patterns():
    assert links.number_in_name("INV-1001.pdf", ("INV-{number}.pdf",)) == "1001"
    assert links.number_in_name("inv-1001.PDF", ("INV-{number}.pdf",)) == "1001"
    assert links.number_in_name("1001.pdf", ("{number}.*",)) == "1001"
    assert links.number_in_name("1001.final.pdf", ("{number}.*",)) == "1001"
    assert (
        links.number_in_name("Invoice 77 from Co.pdf", ("Invoice {number} from*",))
        == "77"
    )
    assert links.number_in_name("scan.pdf", ("INV-{number}.pdf",)) is None


def test_invoice_pdf_dropped_after_its_export_attaches_to_the_invoice(
    store, docs_settings, tmp_path
):
    run_import(store, docs_settings, SAMPLE_LEDGER, source="harbor")
    result = run_import(
        store,
        docs_settings,
        _drop(tmp_path, "INV-1001.pdf", pdf("1001")),
        source="harbor",
    )

    assert (result.status, result.adapter, result.created) == ("applied", "document", 1)
    assert result.warnings == []
    doc, invoice = _doc(store, "INV-1001.pdf"), _invoice(store, "1001")
    assert (doc.invoice_id, doc.account_id, doc.kind) == (
        invoice.id,
        invoice.account_id,
        "invoice_copy",
    )
    assert doc.content_type == "application/pdf"
    assert read_blob(docs_settings, doc.storage_key) == pdf("1001")
    assert doc.storage_key == f"documents/{doc.sha256[:2]}/{doc.sha256}"
    with store.read() as conn:
        batch = conn.execute(select(B).where(B.c.id == result.batch_id)).one()
    assert (batch.status, batch.adapter, batch.sha256) == (
        "applied",
        "document",
        doc.sha256,
    )

    again = run_import(
        store, docs_settings, _drop(tmp_path, "copy.pdf", pdf("1001")), source="harbor"
    )
    assert again.status == "duplicate"
    with store.read() as conn:
        assert len(conn.execute(select(D)).all()) == 1


def test_pdf_arriving_before_its_invoice_waits_then_attaches(
    store, docs_settings, tmp_path
):
    first = run_import(
        store,
        docs_settings,
        _drop(tmp_path, "INV-1002.pdf", pdf("1002")),
        source="harbor",
    )
    assert first.status == "applied"
    assert "not linked yet" in first.warnings[0]
    with store.read() as conn:
        waiting = links.unmatched_documents(conn)
    assert [(w["file_name"], w["source"]) for w in waiting] == [
        ("INV-1002.pdf", "harbor")
    ]
    assert "1002" in waiting[0]["reason"]

    run_import(store, docs_settings, SAMPLE_LEDGER, source="harbor")

    doc, invoice = _doc(store, "INV-1002.pdf"), _invoice(store, "1002")
    assert (doc.invoice_id, doc.account_id) == (invoice.id, invoice.account_id)
    with store.read() as conn:
        assert links.unmatched_documents(conn) == []


def test_content_decides_a_png_named_jpg_and_a_pdf_named_csv(
    store, docs_settings, tmp_path
):
    png = run_import(
        store, docs_settings, _drop(tmp_path, "photo.jpg", PNG), source="scans"
    )
    disguised = run_import(
        store, docs_settings, _drop(tmp_path, "1003.csv", pdf("csv?")), source="scans"
    )
    fake = run_import(
        store,
        docs_settings,
        _drop(tmp_path, "notes.pdf", b"just text\n"),
        source="scans",
    )

    assert _doc(store, "photo.jpg").content_type == "image/png"
    assert png.status == "applied"
    assert disguised.adapter == "document"
    assert _doc(store, "1003.csv").content_type == "application/pdf"
    assert (
        fake.status == "rejected" and fake.adapter is None
    )  # not a document, no format


def test_manifest_before_its_files_links_them_as_they_arrive(
    store, docs_settings, tmp_path
):
    run_import(store, docs_settings, SAMPLE_LEDGER, source="harbor")
    manifest = _drop(
        tmp_path,
        "manifest.csv",
        b"file,account,record,kind\n"
        b"sheet-17.pdf,C2,,job sheet\n"
        b"receipt-1001.jpg,C1,1001,delivery_receipt\n"
        b"contract.pdf,Oakridge Property Management,,contract\n",
    )
    result = run_import(store, docs_settings, manifest, source="harbor")
    assert (result.status, result.adapter, result.created) == ("applied", "manifest", 3)
    assert "3 file(s)" in result.warnings[0]

    run_import(
        store,
        docs_settings,
        _drop(tmp_path, "sheet-17.pdf", pdf("17")),
        source="harbor",
    )
    run_import(
        store, docs_settings, _drop(tmp_path, "receipt-1001.jpg", JPEG), source="harbor"
    )
    run_import(
        store, docs_settings, _drop(tmp_path, "contract.pdf", pdf("c")), source="harbor"
    )

    sheet, receipt, contract = (
        _doc(store, n) for n in ("sheet-17.pdf", "receipt-1001.jpg", "contract.pdf")
    )
    c1, c2 = _account(store, "C1"), _account(store, "C2")
    assert (sheet.kind, sheet.account_id, sheet.invoice_id) == (
        "job_sheet",
        c2.id,
        None,
    )
    assert (receipt.kind, receipt.account_id, receipt.invoice_id) == (
        "delivery_receipt",
        c1.id,
        _invoice(store, "1001").id,
    )
    assert (contract.kind, contract.account_id) == ("contract", c2.id)
    with store.read() as conn:
        states = conn.execute(select(M.c.state)).scalars().all()
    assert states == ["linked"] * 3


def test_manifest_after_its_files_and_before_its_account(
    store, docs_settings, tmp_path
):
    run_import(
        store, docs_settings, _drop(tmp_path, "scan-0001.png", PNG), source="scans"
    )
    manifest = _drop(
        tmp_path,
        "index.csv",
        b"File,Account,Record,Kind\nscan-0001.png,C3,,job_sheet\n",
    )
    result = run_import(store, docs_settings, manifest, source="scans")
    assert result.adapter == "manifest"
    with store.read() as conn:
        waiting = links.unmatched_documents(conn)
    assert waiting[0]["reason"] == "no account 'C3' yet"

    run_import(store, docs_settings, SAMPLE_LEDGER, source="harbor")

    doc = _doc(store, "scan-0001.png")
    assert (doc.kind, doc.account_id) == ("job_sheet", _account(store, "C3").id)


def test_whichever_arrives_first_wins(store, docs_settings, tmp_path):
    run_import(store, docs_settings, SAMPLE_LEDGER, source="harbor")
    run_import(
        store,
        docs_settings,
        _drop(tmp_path, "INV-1001.pdf", pdf("first")),
        source="harbor",
    )
    manifest = _drop(
        tmp_path, "m.csv", b"file,account,kind\nINV-1001.pdf,C2,contract\n"
    )

    run_import(store, docs_settings, manifest, source="harbor")

    doc = _doc(store, "INV-1001.pdf")
    assert (doc.kind, doc.invoice_id) == ("invoice_copy", _invoice(store, "1001").id)
    with store.read() as conn:
        entry = conn.execute(select(M)).one()
    assert (entry.state, entry.reason) == ("ignored", "the document was linked before")


def test_manifest_rows_that_cannot_be_used_are_rejected_with_line_and_column(
    store, docs_settings, tmp_path
):
    manifest = _drop(
        tmp_path,
        "m.csv",
        b"file,account,record,kind\n,C1,,job_sheet\nx.pdf,C1,,invoice copy\ny.pdf,C1,,brochure\nz.pdf,,,contract\n",
    )

    result = run_import(store, docs_settings, manifest, source="harbor")

    assert result.status == "applied" and result.created == 1
    assert [(r["line"], r["column"]) for r in result.rejected] == [
        (2, "file"),
        (4, "kind"),
        (5, "account"),
    ]
    with store.read() as conn:
        assert conn.execute(select(M.c.kind)).scalars().all() == ["invoice_copy"]


def test_admin_links_an_unmatched_document(store, docs_settings, tmp_path):
    run_import(store, docs_settings, SAMPLE_LEDGER, source="harbor")
    run_import(
        store, docs_settings, _drop(tmp_path, "mystery.pdf", pdf("?")), source="scans"
    )
    with store.read() as conn:
        (waiting,) = links.unmatched_documents(conn)
    invoice = _invoice(store, "1004")

    with store.write(ledger=False) as conn:
        linked = links.link_document(
            conn, waiting["id"], invoice_id=invoice.id, actor="admin:office@example.com"
        )

    assert (linked["account_id"], linked["invoice_id"], linked["kind"]) == (
        invoice.account_id,
        invoice.id,
        "invoice_copy",
    )
    with store.read() as conn:
        assert links.unmatched_documents(conn) == []
        audit = conn.execute(select(AUDIT_EVENTS)).one()
    assert (audit.action, audit.record_id, audit.actor) == (
        "link_document",
        waiting["id"],
        "admin:office@example.com",
    )
    with store.write(ledger=False) as conn:
        c2 = _account(store, "C2").id
        relinked = links.link_document(
            conn, waiting["id"], account_id=c2, kind="contract"
        )
        assert (relinked["account_id"], relinked["invoice_id"]) == (c2, None)
        with pytest.raises(UsageError, match="exactly one"):
            links.link_document(conn, waiting["id"])
        with pytest.raises(UsageError, match="no invoice"):
            links.link_document(conn, waiting["id"], invoice_id=999999)
        with pytest.raises(UsageError, match="kind must be"):
            links.link_document(conn, waiting["id"], account_id=c2, kind="brochure")


def test_documents_can_live_in_an_s3_bucket(store, docs_settings, bucket, tmp_path):
    s3_settings = replace(
        docs_settings,
        storage=StorageSettings(
            backend="s3",
            bucket=bucket.name,
            prefix="billfold/",
            endpoint_url=bucket.endpoint,
        ),
    )
    run_import(store, s3_settings, SAMPLE_LEDGER, source="harbor")

    result = run_import(
        store,
        s3_settings,
        _drop(tmp_path, "INV-1001.pdf", pdf("in s3")),
        source="harbor",
    )

    doc = _doc(store, "INV-1001.pdf")
    assert result.status == "applied"
    assert (
        doc.storage_key
        == f"s3://{bucket.name}/billfold/documents/{doc.sha256[:2]}/{doc.sha256}"
    )
    ledger = hashlib.sha256(SAMPLE_LEDGER.read_bytes()).hexdigest()
    assert (
        bucket.list_keys()
        == [  # the export's original is kept there too
            f"billfold/documents/{doc.sha256[:2]}/{doc.sha256}",
            f"billfold/originals/{ledger[:2]}/{ledger}",
        ]
    )
    assert read_blob(s3_settings, doc.storage_key) == pdf("in s3")
    assert doc.invoice_id == _invoice(store, "1001").id
    assert not (docs_settings.data_dir / "documents").exists()


def test_a_document_or_manifest_that_cannot_be_applied_writes_nothing(
    store, docs_settings, tmp_path, inject_fault
):
    inject_fault("before_commit:raise")
    doc = run_import(
        store, docs_settings, _drop(tmp_path, "INV-1.pdf", pdf("1")), source="harbor"
    )
    inject_fault("before_commit:raise")
    manifest = run_import(
        store,
        docs_settings,
        _drop(tmp_path, "m.csv", b"file,account,kind\nINV-1.pdf,C1,contract\n"),
        source="harbor",
    )

    assert (doc.status, manifest.status) == ("failed", "failed")
    assert "injected fault" in doc.reason and "injected fault" in manifest.reason
    with store.read() as conn:
        assert conn.execute(select(D)).all() == []
        assert conn.execute(select(M)).all() == []
        assert conn.execute(select(B.c.status)).scalars().all() == ["failed", "failed"]
    inject_fault(None)
    again = run_import(
        store, docs_settings, _drop(tmp_path, "INV-1.pdf", pdf("1")), source="harbor"
    )
    assert again.status == "applied"
