"""Xero CSV: the sales invoice export, its older layout, the import template, bad input."""

from __future__ import annotations

import contextlib
import csv
import io
import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError, FileRejected
from adapters.generic_csv import GenericCsv
from adapters.registry import detect_adapter
from adapters.toolkit.text import decode_head, sniff_bytes
from adapters.xero_csv import XeroCsv
from schemas.records import DocumentRecord, ExportInfo, Note, Rejection
from tests.conftest import SAMPLES
from tests.helpers import balances_by_account, count, run_import

HERE = SAMPLES / "xero_csv"
INVOICES = HERE / "harbor_sales_invoices.csv"
CREDIT_NOTES = HERE / "harbor_credit_notes.csv"

# FORMATS.md section 10, the expected canonical state of the reference ledger:
# invoices, void invoices, billed, cash paid, balance due, credit notes, credit note
# total, remaining credit, net.
SECTION_10 = {
    "Maple Street Dental": (2, 0, "2510.40", "2260.40", "250.00", 0, "0.00", "0.00", "250.00"),
    "Oakridge Property Management": (3, 0, "1906.15", "1625.00", "281.15", 0, "0.00", "0.00", "281.15"),
    "Jenna Alvarez": (2, 0, "730.52", "205.62", "524.90", 0, "0.00", "0.00", "524.90"),
    "Bayview Café": (2, 0, "1108.20", "300.00", "808.20", 0, "0.00", "0.00", "808.20"),
    "Thomas & Rita Okafor": (2, 0, "943.80", "288.81", "604.99", 1, "50.00", "0.00", "604.99"),
    "Pinecrest HOA": (1, 1, "650.00", "650.00", "0.00", 1, "75.00", "75.00", "-75.00"),
    "Lighthouse Laundromat": (1, 0, "1159.34", "0.00", "1107.64", 1, "51.70", "0.00", "1107.64"),
}  # fmt: skip
BALANCE_FIELDS = (
    "invoice_count", "void_invoice_count", "total_billed", "total_paid", "balance_due",
    "credit_note_count", "credit_note_total", "remaining_credit", "net_balance",
)  # fmt: skip

HEADER = INVOICES.read_text(encoding="utf-8").splitlines()[0].split(",")
SA_COLUMNS = [h for h in HEADER if h.startswith("SA")]
BASE = {
    "ContactName": "Harbor Test Co",
    "EmailAddress": "ap@harbortest.example",
    "InvoiceNumber": "INV-9001",
    "InvoiceDate": "14/03/2025",
    "DueDate": "13/04/2025",
    "Total": "115.00",
    "TaxTotal": "15.00",
    "InvoiceAmountPaid": "0.00",
    "InvoiceAmountDue": "115.00",
    "InventoryItemCode": "LABOUR",
    "Description": "Labour",
    "Quantity": "1.0000",
    "UnitAmount": "100.0000",
    "LineAmount": "100.00",
    "AccountCode": "200",
    "TaxType": "15% GST on Income",
    "TaxAmount": "15.00",
    "Currency": "NZD",
    "Type": "Sales invoice",
    "Sent": "Sent",
    "Status": "Awaiting Payment",
}
TEMPLATE_HEADER = [
    "*ContactName", "EmailAddress", "*InvoiceNumber", "Reference", "*InvoiceDate",
    "*DueDate", "Total", "InventoryItemCode", "*Description", "*Quantity", "*UnitAmount",
    "Discount", "*AccountCode", "*TaxType", "TaxAmount", "Currency",
]  # fmt: skip


def export_csv(*rows: dict, header: list[str] = HEADER, line_end: str = "\n") -> bytes:
    """A Xero export: each row is BASE with the given cells changed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end)
    writer.writerow(header)
    for row in rows:
        cells = {**BASE, **row}
        writer.writerow([cells.get(h, "") for h in header])
    return buffer.getvalue().encode()


def template_csv(*rows: dict, header: list[str] = TEMPLATE_HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h.lstrip("*"), "") for h in header])
    return buffer.getvalue().encode()


def parse_bytes(tmp_path: Path, data: bytes, **options) -> list:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(data), size=len(data)
    )
    return list(XeroCsv().parse(export, ParseOptions(**options)))


def documents(items: list) -> dict[str, DocumentRecord]:
    return {i.number: i for i in items if isinstance(i, DocumentRecord)}


def of_type(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def head(data: bytes) -> Head:
    return Head("upload.bin", data, decode_head(data, sniff_bytes(data)))


def drop_columns(data: bytes, names: list[str]) -> bytes:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    keep = [i for i, h in enumerate(rows[0]) if h not in names]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [[r[i] for i in keep] for r in rows]
    )
    return buffer.getvalue().encode()


def shuffle_columns(data: bytes, seed: int) -> bytes:
    """Move whole columns (header and cells together), as a spreadsheet edit would."""
    text_ = data.decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text_, newline="")))
    except csv.Error:
        return data  # not CSV any more: nothing to shuffle
    if not rows:
        return data
    order = list(range(len(rows[0])))
    random.Random(seed).shuffle(order)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [[r[i] if i < len(r) else "" for i in order] for r in rows]
    )
    return buffer.getvalue().encode()


def comparable(doc: DocumentRecord) -> tuple:
    return (
        doc.kind, doc.number, doc.account, doc.issue_date, doc.due_date, doc.currency,
        doc.total, doc.tax, doc.subtotal, doc.amount_paid, doc.amount_credited,
        doc.balance, doc.lifecycle, doc.paid_flag, doc.reference, doc.lines,
    )  # fmt: skip


# -- the reference ledger ---------------------------------------------------------------


def test_reference_pair_reproduces_every_section_10_figure(store, settings):
    invoices = run_import(store, settings, INVOICES, source="xero")
    credits = run_import(store, settings, CREDIT_NOTES, source="xero")
    for result in (invoices, credits):
        assert (result.status, result.adapter, result.rejected, result.warnings) == (
            "applied",
            "xero_csv",
            [],
            [],
        )
    assert (invoices.created, credits.created) == (14, 3)
    got = balances_by_account(store)
    assert set(got) == {f"{name}|USD" for name in SECTION_10}
    for name, expected in SECTION_10.items():
        b = got[f"{name}|USD"]
        assert tuple(b[f] for f in BALANCE_FIELDS) == expected, name
        # Xero CSV exports carry no payment records: unapplied cash is unknown, not 0.
        assert b["unapplied_payments"] is None, name


def test_reference_invoices_have_the_section_10_paid_credit_and_status(store, settings):
    run_import(store, settings, INVOICES, source="xero")
    run_import(store, settings, CREDIT_NOTES, source="xero")
    with store.read() as conn:
        invoices = {
            r.number: (
                r.total_minor, r.paid_minor, r.credited_minor, r.balance_minor, r.status,
            )
            for r in conn.execute(text("SELECT * FROM invoice"))
        }  # fmt: skip
        credits = {
            r.number: (r.total_minor, r.applied_minor, r.remaining_minor, r.status)
            for r in conn.execute(text("SELECT * FROM credit_note"))
        }
    assert invoices["INV-1001"] == (206040, 206040, 0, 0, "paid")
    assert invoices["INV-1004"] == (72820, 30000, 0, 42820, "partially_paid")
    # Paid, but 50.00 of it by credit note CN-0001: derived Total - paid - due.
    assert invoices["INV-1005"] == (33881, 28881, 5000, 0, "paid")
    assert invoices["INV-1006"] == (72115, 72115, 0, 0, "paid")
    # Void keeps its total and shows nothing paid or credited.
    assert invoices["INV-1007"] == (78000, 0, 0, 0, "void")
    assert invoices["INV-1010"] == (115934, 0, 5170, 110764, "partially_paid")
    assert invoices["INV-1011"] == (52490, 0, 0, 52490, "unpaid")
    assert invoices["INV-1014"] == (56000, 27885, 0, 28115, "partially_paid")
    assert credits == {
        "CN-0001": (5000, 5000, 0, "applied"),
        "CN-0002": (5170, 5170, 0, "applied"),
        "CN-0003": (7500, 0, 7500, "open"),
    }


def test_which_invoice_a_credit_note_went_to_stays_unknown(store, settings):
    run_import(store, settings, INVOICES, source="xero")
    run_import(store, settings, CREDIT_NOTES, source="xero")
    assert count(store, "allocation") == 0
    assert count(store, "payment") == 0


def test_the_same_ledger_re_exported_changes_nothing(store, settings, tmp_path):
    run_import(store, settings, INVOICES, source="xero")
    again = tmp_path / "Export (1).csv"
    again.write_bytes(b"\xef\xbb\xbf" + INVOICES.read_bytes().replace(b"\n", b"\r\n"))
    result = run_import(store, settings, again, source="xero")
    assert (result.status, result.created, result.updated, result.unchanged) == (
        "applied",
        0,
        0,
        14,
    )


def test_lines_keep_their_four_decimal_quantities_and_header_totals(tmp_path):
    docs = documents(parse_bytes(tmp_path, INVOICES.read_bytes()))
    first = docs["INV-1001"]
    assert (first.total, first.tax, first.subtotal) == (
        Decimal("2060.40"),
        Decimal("76.40"),
        Decimal("1984.00"),
    )
    assert [line.position for line in first.lines] == [1, 2, 3]
    assert first.lines[2].item == "WATER-HEATER-50G"
    assert first.lines[2].tax == Decimal("76.40")
    data = export_csv({"Quantity": "2.5000", "UnitAmount": "640.0000"})
    [line] = documents(parse_bytes(tmp_path, data))["INV-9001"].lines
    assert (str(line.quantity), str(line.unit_price)) == ("2.5000", "640.0000")


# -- detection --------------------------------------------------------------------------


# The opening lines of the other formats' reference files (FORMATS.md section 10):
# detection reads only the head of a file.
OTHER_FORMAT_HEADS = {
    "qbo_invoice_list.csv": (
        b"Harbor Plumbing & Heating,,,,,,,,,\nInvoice List,,,,,,,,,\n"
        b'"March 1 - June 30, 2025",,,,,,,,,\n,,,,,,,,,\n'
        b",Date,Transaction Type,Num,Customer,Memo/Description,Due Date,Terms,Amount,"
        b"Open Balance\n,03/03/2025,Invoice,1001,Maple Street Dental,x,04/02/2025,"
        b'Net 30,"2,060.40",0.00\n'
    ),
    "qbo_transaction_list_by_customer.csv": (
        b"Harbor Plumbing & Heating,,,,,,,\nTransaction List by Customer,,,,,,,\n"
        b'"March 1 - June 30, 2025",,,,,,,\n,,,,,,,\n'
        b",Date,Transaction Type,Num,Posting,Memo/Description,Account,Amount\n"
        b"Bayview Caf\xc3\xa9,,,,,,,\n"
    ),
    "qbd_invoices.iif": (
        b"!HDR\tPROD\tVER\tREL\tIIFVER\tDATE\tTIME\tACCNTNT\tACCNTNTSPLITTIME\r\n"
        b"HDR\tQuickBooks Pro\tVersion 33.0D\tRelease R7P\t1\t2025-06-30\t1751325120"
        b"\tN\t0\r\n!CUST\tNAME\tBADDR1\tBADDR2\tBADDR3\tPHONE1\tEMAIL\tTERMS\t"
        b"TAXABLE\r\n"
    ),
    "qbo_api_invoices.json": (
        b'{\n  "BatchItemResponse": [\n    {\n      "QueryResponse": {\n'
        b'        "Customer": [\n'
    ),
    "xero_api_invoices.json": (
        b'{\n  "Id": "64204e15",\n  "Status": "OK",\n  "Invoices": [\n    {\n'
        b'      "Type": "ACCREC",\n      "InvoiceNumber": "INV-1001",\n'
    ),
}


def other_formats() -> dict[str, bytes]:
    found = dict(OTHER_FORMAT_HEADS)
    for path in SAMPLES.glob("*/*"):
        if path.parent.name != "xero_csv" and not path.name.endswith(".expected.json"):
            found[f"{path.parent.name}/{path.name}"] = path.read_bytes()
    return found


def own_files() -> list[Path]:
    return sorted(p for p in HERE.glob("*.csv"))


def test_claims_every_xero_layout_and_nothing_else():
    older = drop_columns(INVOICES.read_bytes(), SA_COLUMNS)
    template = template_csv({"ContactName": "A", "InvoiceNumber": "1"})
    for data in (
        *(p.read_bytes() for p in own_files()),
        older,
        template,
    ):
        assert XeroCsv.detect(head(data))
        assert detect_adapter(head(data)) is XeroCsv
    others = other_formats()
    assert len(others) >= 9
    for name, data in others.items():
        assert not XeroCsv.detect(head(data)), name


def test_detection_needs_a_xero_only_column_that_generic_csv_leaves_alone():
    plain = b"ContactName,InvoiceNumber,InvoiceDate,Total\nA,1,2025-01-01,5\n"
    assert not XeroCsv.detect(head(plain))
    assert detect_adapter(head(plain)) is GenericCsv
    # A Xero export this adapter does not claim (ContactName renamed) is not read as
    # generic CSV either: a Xero-only column keeps the fallback away.
    renamed = b"Contact,InvoiceNumber,InvoiceDate,Total,InvoiceAmountDue\nA,1,2025-01-01,5,0\n"
    assert not XeroCsv.detect(head(renamed))
    with pytest.raises(FileRejected, match="unrecognised file"):
        detect_adapter(head(renamed))
    assert not XeroCsv.detect(head(b"\x89PNG\r\n\x1a\n\x00\x00"))
    assert not XeroCsv.detect(head(b'{"Invoices": []}'))


def test_a_template_without_a_xero_only_column_says_it_resembles_xero(tmp_path):
    """Xero's own *-headed template, trimmed of TaxType: detection says what it lacks."""
    data = (
        b"*ContactName,*InvoiceNumber,*InvoiceDate,*DueDate,*Description,*Quantity,"
        b"*UnitAmount,*AccountCode\r\n"
        b"Bayview Caf\xc3\xa9,INV-77,2025-03-03,2025-04-02,Pump repair,2,60.00,200\r\n"
    )
    with pytest.raises(FileRejected) as refused:
        detect_adapter(head(data))
    message = str(refused.value)
    assert message.startswith(
        "unrecognised file: it most resembles Xero CSV (sales invoice export or import "
        "template) (xero_csv), but it has none of the columns only Xero writes "
        "(TaxType, InvoiceAmountDue, InventoryItemCode, ...); if it is a Xero file, "
        "choose the adapter with --adapter xero_csv"
    )
    assert "Expected one of" in message and "generic CSV (generic_csv)" in message
    # Forced, Xero's reader says what the record itself lacks.
    [rejected] = of_type(parse_bytes(tmp_path, data), Rejection)
    assert rejected.record == "invoice INV-77"
    assert rejected.reason.startswith("expected a TaxAmount on line 2")
    with_tax = data.replace(b"*AccountCode", b"*AccountCode,TaxAmount")
    with_tax = with_tax.replace(b",200\r\n", b",200,0.00\r\n")
    [doc] = documents(parse_bytes(tmp_path, with_tax)).values()
    assert (doc.number, doc.total) == ("INV-77", Decimal("120.00"))
    # Nothing like any format: the plain list, no guess.
    with pytest.raises(FileRejected) as plain:
        detect_adapter(head(b"colour,size\nred,9\n"))
    assert str(plain.value).startswith("unrecognised file: expected one of ")


# -- layouts and encodings --------------------------------------------------------------


def test_older_layout_without_shipping_columns_reads_the_same(tmp_path):
    full = documents(parse_bytes(tmp_path, INVOICES.read_bytes()))
    older = documents(
        parse_bytes(tmp_path, drop_columns(INVOICES.read_bytes(), SA_COLUMNS))
    )
    assert len(HEADER) == 44 and len(HEADER) - len(SA_COLUMNS) == 36
    assert {k: comparable(v) for k, v in older.items()} == {
        k: comparable(v) for k, v in full.items()
    }


def test_bom_cp1252_and_crlf_keep_names_exact(tmp_path):
    name = "O’Brien – Café"
    text_ = export_csv({"ContactName": name}, line_end="\r\n").decode()
    for data in (b"\xef\xbb\xbf" + text_.encode(), text_.encode("cp1252")):
        [doc] = documents(parse_bytes(tmp_path, data)).values()
        assert doc.account.key == doc.account.name == name


def test_missing_required_columns_reject_the_file(tmp_path):
    data = drop_columns(export_csv({}), ["InvoiceDate", "Total"])
    with pytest.raises(FileRejected) as exc:
        parse_bytes(tmp_path, data)
    assert (
        "missing required Xero column(s) InvoiceDate (or CreditNoteDate), Total;"
        in (str(exc.value))
    )


def test_empty_file_is_rejected(tmp_path):
    with pytest.raises(FileRejected, match="empty"):
        parse_bytes(tmp_path, b"\r\n\r\n")


# -- grouping ---------------------------------------------------------------------------


def test_rows_of_one_document_must_agree_on_its_fields(tmp_path):
    data = export_csv({}, {"Total": "116.00", "Description": "Parts"})
    [rejection] = of_type(parse_bytes(tmp_path, data), Rejection)
    assert (rejection.record, rejection.line, rejection.column, rejection.value) == (
        "invoice INV-9001",
        2,
        "Total",
        "116.00",
    )
    assert "'115.00' on line 2, '116.00' on line 3" in rejection.reason


def test_a_credit_note_may_reuse_an_invoice_number(tmp_path):
    data = export_csv(
        {},
        {"Type": "Sales credit note", "Total": "20.00", "InvoiceAmountDue": "20.00"},
    )
    items = parse_bytes(tmp_path, data)
    assert [(d.kind, d.number) for d in of_type(items, DocumentRecord)] == [
        ("invoice", "INV-9001"),
        ("credit_note", "INV-9001"),
    ]


def test_a_document_split_across_the_file_is_a_conflict(store, settings, tmp_path):
    path = tmp_path / "Invoices.csv"
    path.write_bytes(
        export_csv(
            {},
            {"InvoiceNumber": "INV-9002"},
            {"Description": "Parts", "LineAmount": "40.00"},
        )
    )
    result = run_import(store, settings, path)
    assert result.created == 2
    [rejected] = result.rejected
    assert rejected["record"] == "invoice INV-9001"
    assert "appears twice in this file" in rejected["reason"]


def test_a_row_exported_twice_is_dropped_when_the_lines_say_so(tmp_path):
    callout = {"Description": "Callout", "LineAmount": "40.00", "TaxAmount": "6.00"}
    labour = {"Description": "Labour", "LineAmount": "60.00", "TaxAmount": "9.00"}
    items = parse_bytes(tmp_path, export_csv(callout, labour, labour))
    [doc] = documents(items).values()
    assert [line.description for line in doc.lines] == ["Callout", "Labour"]
    [note] = of_type(items, Note)
    assert note.line == 2
    assert "dropped 1 repeated row(s) on line 4;" in note.message


def test_two_identical_line_items_that_belong_together_are_kept(tmp_path):
    half = {"Total": "115.00", "LineAmount": "50.00", "TaxAmount": "7.50"}
    items = parse_bytes(tmp_path, export_csv(half, half))
    [doc] = documents(items).values()
    assert len(doc.lines) == 2
    assert of_type(items, Note) == []


# -- money ------------------------------------------------------------------------------


def test_credited_is_derived_from_total_paid_and_due(tmp_path):
    data = export_csv(
        {"InvoiceAmountPaid": "60.00", "InvoiceAmountDue": "40.00"},
    )
    [doc] = documents(parse_bytes(tmp_path, data)).values()
    assert (doc.amount_paid, doc.amount_credited, doc.balance) == (
        Decimal("60.00"),
        Decimal("15.00"),
        Decimal("40.00"),
    )


def test_paid_and_due_above_the_total_reject_the_invoice(tmp_path):
    data = export_csv({"InvoiceAmountPaid": "100.00", "InvoiceAmountDue": "40.00"})
    [rejection] = of_type(parse_bytes(tmp_path, data), Rejection)
    assert rejection.column == "InvoiceAmountDue"
    assert "no more than the Total (115.00)" in rejection.reason


def test_credit_notes_written_negative_read_as_positive(tmp_path):
    negative = {
        "Type": "Sales credit note", "InvoiceNumber": "CN-9", "DueDate": "",
        "Total": "-57.50", "TaxTotal": "-7.50", "InvoiceAmountPaid": "-20.00",
        "InvoiceAmountDue": "-37.50", "UnitAmount": "-50.0000", "LineAmount": "-50.00",
        "TaxAmount": "-7.50",
    }  # fmt: skip
    positive = {k: v.lstrip("-") for k, v in negative.items()}
    neg = documents(parse_bytes(tmp_path, export_csv(negative)))["CN-9"]
    pos = documents(parse_bytes(tmp_path, export_csv(positive)))["CN-9"]
    assert (neg.kind, neg.total, neg.tax, neg.subtotal, neg.balance) == (
        "credit_note",
        Decimal("57.50"),
        Decimal("7.50"),
        Decimal("50.00"),
        Decimal("37.50"),
    )
    assert comparable(neg) == comparable(pos)


def test_a_negative_invoice_is_rejected_not_turned_into_a_credit(tmp_path):
    data = export_csv({"Total": "-115.00", "InvoiceAmountDue": "-115.00"})
    [rejection] = of_type(parse_bytes(tmp_path, data), Rejection)
    assert (rejection.column, rejection.value) == ("Total", "-115.00")
    assert "Sales credit note" in rejection.reason


def test_a_bad_amount_rejects_its_document_only(tmp_path):
    data = export_csv({"InvoiceAmountPaid": "N/A"}, {"InvoiceNumber": "INV-9002"})
    items = parse_bytes(tmp_path, data)
    [rejection] = of_type(items, Rejection)
    assert (rejection.record, rejection.column, rejection.value) == (
        "invoice INV-9001",
        "InvoiceAmountPaid",
        "N/A",
    )
    assert list(documents(items)) == ["INV-9002"]


def test_currency_per_document(tmp_path):
    items = parse_bytes(
        tmp_path,
        export_csv(
            {"Currency": "AUD"},
            {"InvoiceNumber": "INV-2", "Currency": ""},
            {"InvoiceNumber": "INV-3", "Currency": "Kiwi"},
        ),
        default_currency="NZD",
    )
    docs = documents(items)
    assert (docs["INV-9001"].currency, docs["INV-2"].currency) == ("AUD", "NZD")
    [rejection] = of_type(items, Rejection)
    assert (rejection.column, rejection.value) == ("Currency", "KIWI")


# -- statuses and types -----------------------------------------------------------------


def test_statuses_set_lifecycle_and_never_override_the_amounts(tmp_path):
    rows = [
        {"InvoiceNumber": "P", "Status": "Paid", "InvoiceAmountPaid": "115.00", "InvoiceAmountDue": "0.00"},
        {"InvoiceNumber": "A", "Status": "Awaiting Payment"},
        {"InvoiceNumber": "D", "Status": "Draft", "Sent": "Unsent"},
        {"InvoiceNumber": "S", "Status": "Awaiting Approval"},
        {"InvoiceNumber": "V", "Status": "Voided", "InvoiceAmountDue": "0.00"},
        {"InvoiceNumber": "X", "Status": "Deleted", "InvoiceAmountDue": "0.00"},
    ]  # fmt: skip
    docs = documents(parse_bytes(tmp_path, export_csv(*rows)))
    assert {n: (d.lifecycle, d.paid_flag) for n, d in docs.items()} == {
        "P": ("issued", True),
        "A": ("issued", None),
        "D": ("draft", None),
        "S": ("draft", None),
        "V": ("void", None),
        "X": ("deleted", None),
    }
    assert (docs["V"].total, docs["V"].amount_credited) == (Decimal("115.00"), 0)


def test_contradicting_or_unknown_statuses_reject_the_record(tmp_path):
    rows = [
        {"InvoiceNumber": "P", "Status": "Paid", "InvoiceAmountDue": "10.00"},
        {"InvoiceNumber": "Q", "Status": "Maybe"},
        {"InvoiceNumber": "R", "Status": ""},
    ]
    rejections = of_type(parse_bytes(tmp_path, export_csv(*rows)), Rejection)
    assert [(r.record, r.column, r.value) for r in rejections] == [
        ("invoice P", "InvoiceAmountDue", "10.00"),
        ("invoice Q", "Status", "Maybe"),
        ("invoice R", "Status", ""),
    ]
    assert "Awaiting Payment" in rejections[1].reason


def test_overpayments_and_bills_are_notes_not_records(tmp_path):
    rows = [
        {"InvoiceNumber": "", "Type": "Sales overpayment", "Status": "Paid"},
        {"InvoiceNumber": "", "Type": "Sales prepayment", "Status": "Paid"},
        {"InvoiceNumber": "B-1", "Type": "Bill"},
        {"InvoiceNumber": "B-1", "Type": "Bill", "Description": "Freight"},
        {"InvoiceNumber": "INV-1"},
    ]
    items = parse_bytes(tmp_path, export_csv(*rows))
    assert list(documents(items)) == ["INV-1"]
    notes = of_type(items, Note)
    assert [n.line for n in notes] == [2, 3, 4]
    assert "Sales overpayment" in notes[0].message
    assert "not invoices" in notes[0].message
    assert "refused Bill B-1 (lines 4-5): billfold reads sales" in notes[2].message
    assert of_type(items, Rejection) == []


def test_an_unknown_type_is_a_rejection(tmp_path):
    items = parse_bytes(tmp_path, export_csv({"Type": "Quote"}, {"Type": ""}))
    rejections = of_type(items, Rejection)
    assert [(r.column, r.value) for r in rejections] == [
        ("Type", "Quote"),
        ("Type", ""),
    ]


# -- dates ------------------------------------------------------------------------------


def test_day_first_or_month_first_is_proved_by_the_file(tmp_path):
    dmy = export_csv({"InvoiceDate": "03/04/2025", "DueDate": "13/04/2025"})
    [doc] = documents(parse_bytes(tmp_path, dmy, date_order="MDY")).values()
    assert doc.issue_date.isoformat() == "2025-04-03"
    mdy = export_csv({"InvoiceDate": "03/04/2025", "DueDate": "04/13/2025"})
    [doc] = documents(parse_bytes(tmp_path, mdy, date_order="DMY")).values()
    assert doc.issue_date.isoformat() == "2025-03-04"


def test_dates_that_fit_both_orders_need_the_configured_order(tmp_path):
    data = export_csv({"InvoiceDate": "03/04/2025", "DueDate": "05/04/2025"})
    with pytest.raises(FileRejected, match="date_order") as exc:
        parse_bytes(tmp_path, data)
    assert exc.value.line == 2
    [doc] = documents(parse_bytes(tmp_path, data, date_order="DMY")).values()
    assert (doc.issue_date.isoformat(), doc.due_date.isoformat()) == (
        "2025-04-03",
        "2025-04-05",
    )
    [doc] = documents(parse_bytes(tmp_path, data, date_order="MDY")).values()
    assert doc.issue_date.isoformat() == "2025-03-04"


def test_a_file_that_proves_both_orders_is_refused(tmp_path):
    data = export_csv(
        {"InvoiceDate": "14/03/2025", "DueDate": "13/04/2025"},
        {"InvoiceNumber": "INV-2", "InvoiceDate": "03/14/2025", "DueDate": ""},
    )
    with pytest.raises(FileRejected, match="contradict"):
        parse_bytes(tmp_path, data)


def test_an_impossible_date_rejects_its_record_only(tmp_path):
    data = export_csv({"InvoiceDate": "31/06/2025"}, {"InvoiceNumber": "INV-2"})
    items = parse_bytes(tmp_path, data)
    [rejection] = of_type(items, Rejection)
    assert (rejection.column, rejection.value) == ("InvoiceDate", "31/06/2025")
    assert list(documents(items)) == ["INV-2"]


def test_refused_dates_are_reported_by_the_import(store, settings, tmp_path):
    path = tmp_path / "Invoices.csv"
    path.write_bytes(export_csv({"InvoiceDate": "03/04/2025", "DueDate": "05/04/2025"}))
    result = run_import(store, settings, path)
    assert result.status == "rejected"
    assert "cannot tell day/month order" in result.reason
    assert 'date_order = "DMY" or "MDY"' in result.reason


# -- truncation and bad rows ------------------------------------------------------------


def test_a_truncated_last_record_is_rejected_and_the_rest_applies(tmp_path):
    data = export_csv({}, {"InvoiceNumber": "INV-2", "Reference": "Job, stage 2"})
    cut = data[: data.index(b"Job, stage") + 5]
    items = parse_bytes(tmp_path, cut)
    assert list(documents(items)) == ["INV-9001"]
    [rejection] = of_type(items, Rejection)
    assert rejection.line == 3
    assert "truncated" in rejection.reason


def test_a_document_cut_inside_its_last_line_is_rejected_whole(tmp_path):
    data = export_csv(
        {"InvoiceNumber": "INV-1"},
        {},
        {"Description": "Parts", "LineAmount": "40.00"},
    )
    cut = data[: data.rindex(b"Parts") + 3]  # before the row's Type and Status
    items = parse_bytes(tmp_path, cut)
    assert list(documents(items)) == ["INV-1"]
    [rejection] = of_type(items, Rejection)
    assert (rejection.record, rejection.line) == ("invoice INV-9001", 3)
    assert "ends in the middle of line 4" in rejection.reason


def test_a_row_with_extra_fields_rejects_its_document(tmp_path):
    data = export_csv({}, {"InvoiceNumber": "INV-2"})
    # An unquoted comma in the first row's Description adds a field.
    data = data.replace(b",Labour,", b",Labour,parts,", 1)
    items = parse_bytes(tmp_path, data)
    [rejection] = of_type(items, Rejection)
    assert "found 45 on line 2 (an unquoted comma?)" in rejection.reason
    assert list(documents(items)) == ["INV-2"]


# -- the import template ----------------------------------------------------------------


def test_template_with_totals_leaves_payments_unknown(store, settings, tmp_path):
    path = tmp_path / "InvoiceTemplate.csv"
    path.write_bytes(
        template_csv(
            {
                "ContactName": "Redland Lettings", "InvoiceNumber": "INV-1",
                "InvoiceDate": "14/07/2025", "DueDate": "28/07/2025", "Total": "120.00",
                "Description": "Boiler service", "Quantity": "1", "UnitAmount": "100.00",
                "TaxType": "20% (VAT on Income)", "TaxAmount": "20.00",
            }
        )
    )  # fmt: skip
    result = run_import(store, settings, path)
    assert (result.adapter, result.created, result.rejected) == ("xero_csv", 1, [])
    b = balances_by_account(store)["Redland Lettings|USD"]
    assert (b["total_billed"], b["total_paid"], b["balance_due"], b["net_balance"]) == (
        "120.00",
        None,
        None,
        None,
    )
    with store.read() as conn:
        status = conn.execute(text("SELECT status FROM invoice")).scalar_one()
    assert status == "unknown"


def test_template_without_total_adds_up_its_lines_and_says_so(tmp_path):
    common = {
        "ContactName": "Clifton Dental", "InvoiceNumber": "INV-2",
        "InvoiceDate": "15/07/2025", "DueDate": "29/07/2025",
        "TaxType": "20% (VAT on Income)", "Currency": "GBP",
    }  # fmt: skip
    data = template_csv(
        {**common, "Description": "Labour", "Quantity": "3", "UnitAmount": "45.00", "TaxAmount": "27.00"},
        {**common, "Description": "Tap", "Quantity": "1", "UnitAmount": "60.00", "Discount": "10", "TaxAmount": "10.80"},
        {**common, "Description": "Disposal", "Quantity": "1", "UnitAmount": "5.00", "TaxType": "No VAT"},
    )  # fmt: skip
    items = parse_bytes(tmp_path, data)
    [doc] = documents(items).values()
    assert (doc.total, doc.tax, doc.subtotal) == (
        Decimal("231.80"),
        Decimal("37.80"),
        Decimal("194.00"),
    )
    assert (doc.amount_paid, doc.amount_credited, doc.balance, doc.paid_flag) == (
        None,
        None,
        None,
        None,
    )
    [note] = of_type(items, Note)
    assert "no Total" in note.message and "231.80" in note.message


def test_template_without_total_or_tax_amount_on_a_taxed_line_is_rejected(tmp_path):
    data = template_csv(
        {
            "ContactName": "A", "InvoiceNumber": "INV-3", "InvoiceDate": "2025-07-16",
            "Description": "Labour", "Quantity": "1", "UnitAmount": "45.00",
            "TaxType": "20% (VAT on Income)",
        }
    )  # fmt: skip
    [rejection] = of_type(parse_bytes(tmp_path, data), Rejection)
    assert (rejection.record, rejection.column) == ("invoice INV-3", "TaxAmount")
    assert "does not compute tax" in rejection.reason


def test_template_lines_that_need_rounding_are_rejected(tmp_path):
    data = template_csv(
        {
            "ContactName": "A", "InvoiceNumber": "INV-4", "InvoiceDate": "2025-07-16",
            "Description": "Hose", "Quantity": "1.5", "UnitAmount": "3.3333",
            "TaxType": "Tax Exempt (0%)",
        }
    )  # fmt: skip
    [rejection] = of_type(parse_bytes(tmp_path, data), Rejection)
    assert rejection.column == "Total"
    assert "rounding" in rejection.reason


def test_template_continuation_rows_may_leave_header_cells_empty(tmp_path):
    first = {
        "ContactName": "A", "InvoiceNumber": "INV-5", "InvoiceDate": "2025-07-16",
        "DueDate": "2025-07-30", "Total": "30.00", "Description": "x",
        "Quantity": "1", "UnitAmount": "10", "TaxType": "Tax Exempt",
    }  # fmt: skip
    more = {
        "InvoiceNumber": "INV-5",
        "Description": "y",
        "Quantity": "2",
        "UnitAmount": "10",
    }
    [doc] = documents(parse_bytes(tmp_path, template_csv(first, more))).values()
    assert (doc.account.name, doc.total, len(doc.lines)) == ("A", Decimal("30.00"), 2)


def test_credit_note_template_yields_positive_credit_notes(store, settings):
    result = run_import(store, settings, HERE / "us_credit_note_template.csv")
    assert (result.created, result.rejected) == (2, [])
    b = balances_by_account(store)["Barton Creek Apartments|USD"]
    assert (b["credit_note_count"], b["credit_note_total"], b["remaining_credit"]) == (
        1,
        "633.27",
        None,
    )
    with store.read() as conn:
        statuses = dict(
            conn.execute(text("SELECT number, status FROM credit_note")).all()
        )
    assert statuses == {"CN-0101": "unknown", "CN-0102": "unknown"}


# -- the messy sample -------------------------------------------------------------------


def test_messy_nz_export_applies_what_it_can(store, settings):
    result = run_import(store, settings, HERE / "nz_export_cp1252_older_layout.csv")
    assert result.status == "applied"
    assert [(r["record"], r["line"]) for r in result.rejected] == [
        ("invoice INV-2006", 13),
        ("document INV-2007", 14),
    ]
    b = balances_by_account(store)
    cafe, obrien = b["Café Lumière|NZD"], b["O’Brien & Sons – Builders|NZD"]
    assert tuple(cafe[f] for f in BALANCE_FIELDS) == (
        1, 1, "736.00", "300.00", "378.50", 1, "57.50", "0.00", "378.50",
    )  # fmt: skip
    assert tuple(obrien[f] for f in BALANCE_FIELDS) == (
        2, 0, "652.63", "290.38", "362.25", 0, "0.00", "0.00", "362.25",
    )  # fmt: skip
    assert "Plumbing Supplies NZ Ltd|NZD" not in b


# -- robustness -------------------------------------------------------------------------

REFERENCE_BYTES = INVOICES.read_bytes()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 10_000))
def test_column_order_does_not_matter(tmp_path, seed):
    expected = [
        comparable(d)
        for d in documents(parse_bytes(tmp_path, REFERENCE_BYTES)).values()
    ]
    shuffled = parse_bytes(tmp_path, shuffle_columns(REFERENCE_BYTES, seed))
    assert [comparable(d) for d in documents(shuffled).values()] == expected


_cell = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(st.lists(_cell, min_size=0, max_size=12), max_size=8))
def test_arbitrary_cells_raise_only_adapter_errors(tmp_path, rows):
    short = [
        "ContactName", "InvoiceNumber", "InvoiceDate", "DueDate", "Total", "TaxTotal",
        "InvoiceAmountPaid", "InvoiceAmountDue", "LineAmount", "Currency", "Type",
        "Status",
    ]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(short)
    writer.writerows(rows)
    with contextlib.suppress(AdapterError):
        for item in parse_bytes(tmp_path, buffer.getvalue().encode()):
            assert isinstance(item, DocumentRecord | Rejection | Note | ExportInfo)
