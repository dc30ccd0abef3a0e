"""The generic CSV contract: layouts, header synonyms, encodings, bad input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError, FileRejected
from adapters.generic_csv import GenericCsv
from adapters.registry import detect_adapter
from adapters.toolkit.text import decode_head, sniff_bytes
from schemas.records import DocumentRecord, ExportInfo, Note, PaymentRecord, Rejection
from tests.helpers import SAMPLE_LEDGER, balances_by_account, run_import

# FORMATS.md section 10: the expected canonical state of the reference ledger.
REFERENCE = {
    "Maple Street Dental": ("2510.40", "2260.40", "250.00", "0.00", "250.00"),
    "Oakridge Property Management": ("1906.15", "1625.00", "281.15", "0.00", "281.15"),
    "Jenna Alvarez": ("730.52", "205.62", "524.90", "0.00", "524.90"),
    "Bayview Café": ("1108.20", "300.00", "808.20", "0.00", "808.20"),
    "Thomas & Rita Okafor": ("943.80", "288.81", "604.99", "0.00", "604.99"),
    "Pinecrest HOA": ("650.00", "650.00", "0.00", "75.00", "-75.00"),
    "Lighthouse Laundromat": ("1159.34", "0.00", "1107.64", "0.00", "1107.64"),
}


def parse_bytes(tmp_path: Path, data: bytes, **options) -> list:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(data), size=len(data)
    )
    return list(GenericCsv().parse(export, ParseOptions(**options)))


def detect(data: bytes) -> bool:
    """True when detection gives the file to generic CSV (the registry's fallback)."""
    enc = sniff_bytes(data)
    try:
        return detect_adapter(Head("x.csv", data, decode_head(data, enc))) is GenericCsv
    except FileRejected:
        return False


def test_reference_ledger_reproduces_the_expected_figures(store, settings):
    result = run_import(store, settings, SAMPLE_LEDGER)
    assert result.rejected == []
    got = balances_by_account(store)
    for name, (billed, paid, due, credit_left, net) in REFERENCE.items():
        b = got[f"{name}|USD"]
        assert (
            b["total_billed"],
            b["total_paid"],
            b["balance_due"],
            b["remaining_credit"],
            b["net_balance"],
        ) == (
            billed,
            paid,
            due,
            credit_left,
            net,
        ), name


def test_per_invoice_figures_of_the_reference_ledger(store, settings):
    from sqlalchemy import text

    run_import(store, settings, SAMPLE_LEDGER)
    with store.read() as conn:
        rows = {
            r.number: (
                r.total_minor,
                r.paid_minor,
                r.credited_minor,
                r.balance_minor,
                r.status,
            )
            for r in conn.execute(text("SELECT * FROM invoice"))
        }
    assert rows["1005"] == (33881, 28881, 5000, 0, "paid")
    assert rows["1006"] == (72115, 72115, 0, 0, "paid")
    assert rows["1007"][4] == "void" and rows["1007"][0] == 78000
    assert rows["1010"] == (115934, 0, 5170, 110764, "partially_paid")
    assert rows["1014"] == (56000, 27885, 0, 28115, "partially_paid")


def test_detects_its_own_files_and_leaves_vendor_files_alone():
    assert detect(SAMPLE_LEDGER.read_bytes())
    assert detect(b"Invoice #,Client,Date,Amount\n1,A,2025-01-01,5\n")
    xero = b"ContactName,EmailAddress,InvoiceNumber,InvoiceDate,DueDate,Total,InvoiceAmountPaid,InvoiceAmountDue\n"
    assert not detect(xero)
    qbo = b"Harbor Plumbing,,\nInvoice List,,\n,,\n,Date,Transaction Type,Num,Customer,Amount\n"
    assert not detect(qbo)
    assert not detect(b"name,age\nbob,3\n")
    assert not detect(b"\x89PNG\r\n\x1a\n\x00\x00")


def test_one_row_per_line_groups_rows_into_one_invoice(tmp_path):
    items = parse_bytes(tmp_path, SAMPLE_LEDGER.read_bytes())
    docs = [i for i in items if isinstance(i, DocumentRecord)]
    first = docs[0]
    assert (first.number, len(first.lines), first.total) == (
        "1001",
        3,
        Decimal("2060.40"),
    )
    assert [line.position for line in first.lines] == [1, 2, 3]
    assert first.lines[2].tax == Decimal("76.40")
    pays = [i for i in items if isinstance(i, PaymentRecord)]
    split = next(p for p in pays if p.reference == "20931")
    assert [(a.invoice_ref, a.amount) for a in split.allocations] == [
        ("1006", Decimal("721.15")),
        ("1014", Decimal("278.85")),
    ]


def test_rows_of_one_invoice_must_agree_on_header_fields(tmp_path):
    data = (
        b"number,customer,date,total,line_no,line_description\n"
        b"9,A,2025-01-01,10.00,1,x\n"
        b"9,A,2025-01-01,12.00,2,y\n"
    )
    [rejection] = [i for i in parse_bytes(tmp_path, data) if isinstance(i, Rejection)]
    assert rejection.column == "total"
    assert "'10.00' on line 2, '12.00' on line 3" in rejection.reason


def test_exact_duplicate_line_rows_are_kept_once(tmp_path):
    data = (
        b"number,customer,date,total,line_no,line_description,line_amount\n"
        b"9,A,2025-01-01,10.00,1,x,10.00\n"
        b"9,A,2025-01-01,10.00,1,x,10.00\n"
    )
    [doc] = [i for i in parse_bytes(tmp_path, data) if isinstance(i, DocumentRecord)]
    assert len(doc.lines) == 1


def test_a_plain_description_column_describes_lines_in_a_line_layout(tmp_path):
    data = b"number,customer,date,total,line_no,description\n9,A,2025-01-01,10.00,1,Pump\n9,A,2025-01-01,10.00,2,Valve\n"
    [doc] = [i for i in parse_bytes(tmp_path, data) if isinstance(i, DocumentRecord)]
    assert [line.description for line in doc.lines] == ["Pump", "Valve"]


def test_line_columns_without_line_no_reject_the_file(tmp_path):
    with pytest.raises(FileRejected, match="need a line_no column"):
        parse_bytes(
            tmp_path, b"number,customer,date,total,line_amount\n1,A,2025-01-01,5,5\n"
        )


def test_configured_mapping_wins_over_synonyms(tmp_path):
    data = b"Ref,Who,When,Gross,Amount\n1,A,2025-01-01,50.00,40.00\n"
    [doc] = [
        i
        for i in parse_bytes(
            tmp_path,
            data,
            columns={
                "number": "Ref",
                "customer_name": "Who",
                "issue_date": "When",
                "total": "Gross",
            },
        )
        if isinstance(i, DocumentRecord)
    ]
    assert doc.total == Decimal("50.00")


def test_configured_column_missing_from_header_is_a_clear_error(tmp_path):
    with pytest.raises(
        FileRejected, match="configured column total = 'Gross' is not in the header"
    ):
        parse_bytes(
            tmp_path,
            b"number,customer,date,amount\n1,A,2025-01-01,5\n",
            columns={"total": "Gross"},
        )


def test_bom_cp1252_and_crlf(tmp_path):
    text = "Invoice #,Client,Date,Amount\r\n1,O’Brien – Café,2025-01-01,5.00\r\n"
    for data in (b"\xef\xbb\xbf" + text.encode(), text.encode("cp1252")):
        [doc] = [
            i for i in parse_bytes(tmp_path, data) if isinstance(i, DocumentRecord)
        ]
        assert doc.account.name == "O’Brien – Café"


def test_credit_notes_use_magnitude_and_sites_get_parents(tmp_path):
    data = (
        b"type,number,customer,site,date,total\n"
        b"credit note,CR1,Northgate,12 Elm St,2025-01-01,-40.00\n"
        b"invoice,I1,Northgate,,2025-01-02,100.00\n"
    )
    docs = [i for i in parse_bytes(tmp_path, data) if isinstance(i, DocumentRecord)]
    credit, invoice = docs
    assert (credit.kind, credit.total) == ("credit_note", Decimal("40.00"))
    assert (credit.account.key, credit.account.name, credit.account.parent_key) == (
        "Northgate:12 Elm St",
        "12 Elm St",
        "Northgate",
    )
    assert invoice.account.parent_key is None


def test_negative_invoice_total_is_rejected_not_flipped(tmp_path):
    [r] = [
        i
        for i in parse_bytes(
            tmp_path, b"number,customer,date,total\n1,A,2025-01-01,-5\n"
        )
        if isinstance(i, Rejection)
    ]
    assert "credit_note" in r.reason


def test_unknown_status_and_type_are_rejections(tmp_path):
    data = b"type,number,customer,date,total,status\ninvoice,1,A,2025-01-01,5,maybe\nestimate,2,A,2025-01-01,5,\n"
    rejections = [i for i in parse_bytes(tmp_path, data) if isinstance(i, Rejection)]
    assert [(r.column, r.value) for r in rejections] == [
        ("status", "maybe"),
        ("record_type", "estimate"),
    ]


def test_blank_and_footer_rows_are_notes_not_errors(tmp_path):
    data = b"number,customer,date,total\n1,A,2025-01-01,5\n,,,\n\nTotal,,,5\nGrand Total,,,5\n"
    items = parse_bytes(tmp_path, data)
    assert [type(i).__name__ for i in items] == [
        "ExportInfo", "DocumentRecord", "Note", "Note",
    ]  # fmt: skip
    assert all(isinstance(i, Note | DocumentRecord | ExportInfo) for i in items)


def test_bad_allocation_syntax_is_reported(tmp_path):
    data = b"type,number,customer,date,total,applies_to\npayment,P1,A,2025-01-01,5,1001:5\n"
    [r] = [i for i in parse_bytes(tmp_path, data) if isinstance(i, Rejection)]
    assert r.column == "applies_to" and "NUMBER=AMOUNT" in r.reason


def test_empty_file_is_rejected(tmp_path):
    with pytest.raises(FileRejected, match="empty"):
        parse_bytes(tmp_path, b"\n\n")


_cell = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
)


@pytest.mark.slow  # long fuzz: many generated cases, most through a store
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(st.lists(_cell, min_size=0, max_size=8), max_size=8))
def test_arbitrary_cells_raise_only_adapter_errors(tmp_path, rows):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["type", "number", "customer", "date", "due", "total", "balance", "applies_to"]
    )
    writer.writerows(rows)
    try:
        items = parse_bytes(tmp_path, buffer.getvalue().encode())
    except AdapterError:
        return
    for item in items:
        assert isinstance(
            item, DocumentRecord | PaymentRecord | Rejection | Note | ExportInfo
        )


def test_a_detect_that_trips_over_odd_bytes_does_not_stop_the_import(
    store, settings, tmp_path
):
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\rB")  # once made the csv module raise inside detection
    result = run_import(store, settings, path)
    assert result.status == "rejected" and "unrecognised file" in result.reason


def test_a_register_that_needs_one_column_mapped_says_which_and_imports_once_mapped(
    store, settings, tmp_path
):
    from dataclasses import replace

    from sync.config import SourceSettings

    path = tmp_path / "register.csv"
    path.write_text(
        "Job Ref,Client,Date,Total\nJ-1001,Bayview Café,2025-03-03,120.00\n",
        encoding="utf-8",
    )
    with pytest.raises(FileRejected) as refused:
        detect_adapter(
            Head(path.name, path.read_bytes(), path.read_text(encoding="utf-8"))
        )
    assert str(refused.value).startswith(
        "unrecognised file: it most resembles generic CSV (generic_csv), but it has "
        "no column for number; if the file holds it under another header, name that "
        'header under [sources.columns] in the config (number = "...")'
    )
    # Mapped as the message says, with the adapter still auto: detected and imported.
    mapped = replace(
        settings,
        sources=(SourceSettings(name="register", columns={"number": "Job Ref"}),),
    )
    result = run_import(store, mapped, path, source="register")
    assert (result.status, result.adapter, result.created) == (
        "applied",
        "generic_csv",
        1,
    ), result.reason
    assert balances_by_account(store)["Bayview Café|USD"]["total_billed"] == "120.00"


def test_a_nul_character_in_a_utf16_export_is_refused_with_its_line(tmp_path):
    """A UTF-8 file with a NUL byte is refused as binary; a UTF-16 one decodes the NUL
    into the text, which no store keeps (PostgreSQL refused the whole import)."""
    from adapters.toolkit.text import sniff_bytes

    text = (
        "record_type,number,customer_id,customer_name,issue_date,currency,total\n"
        "invoice,N-1,C1,Ann,2025-05-06,USD,10.00\n"
        "invoice,N-2,C1,\x00Ann,2025-05-06,USD,12.00\n"
    )
    data = b"\xff\xfe" + text.encode("utf-16-le")
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(data), size=len(data)
    )
    with pytest.raises(FileRejected, match="NUL character on line 3"):
        list(GenericCsv().parse(export, ParseOptions()))
