"""Xero API JSON: envelopes, counting money once, versions, quirks, bad input."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError, FileRejected
from adapters.generic_csv import GenericCsv
from adapters.registry import detect_adapter
from adapters.toolkit.text import HEAD_SIZE, decode_head, sniff_bytes
from adapters.xero_api import XeroApi
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Note,
    PaymentRecord,
    Rejection,
)
from schemas.tables import IMPORT_BATCHES
from tests.conftest import SAMPLES
from tests.helpers import balances_by_account, count, run_import

SAMPLE = SAMPLES / "xero_api" / "harbor_merged_envelope.json"
FORMATS_SAMPLES = Path("/work/shared/formats/samples")

# FORMATS.md section 10, every column: invoices, voids, billed, cash paid, balance due,
# credit notes, credit-note total, remaining credit, net. API JSON reproduces all.
REFERENCE = {
    "Maple Street Dental": (2, 0, "2510.40", "2260.40", "250.00", 0, "0.00", "0.00", "250.00"),
    "Oakridge Property Management": (3, 0, "1906.15", "1625.00", "281.15", 0, "0.00", "0.00", "281.15"),
    "Jenna Alvarez": (2, 0, "730.52", "205.62", "524.90", 0, "0.00", "0.00", "524.90"),
    "Bayview Café": (2, 0, "1108.20", "300.00", "808.20", 0, "0.00", "0.00", "808.20"),
    "Thomas & Rita Okafor": (2, 0, "943.80", "288.81", "604.99", 1, "50.00", "0.00", "604.99"),
    "Pinecrest HOA": (1, 1, "650.00", "650.00", "0.00", 1, "75.00", "75.00", "-75.00"),
    "Lighthouse Laundromat": (1, 0, "1159.34", "0.00", "1107.64", 1, "51.70", "0.00", "1107.64"),
}  # fmt: skip

# Per invoice (section 10): total / cash / credit / balance / status (minor units).
PER_INVOICE = {
    "INV-1001": (206040, 206040, 0, 0, "paid"),
    "INV-1002": (62500, 62500, 0, 0, "paid"),
    "INV-1003": (20562, 20562, 0, 0, "paid"),
    "INV-1004": (72820, 30000, 0, 42820, "partially_paid"),
    "INV-1005": (33881, 28881, 5000, 0, "paid"),
    "INV-1006": (72115, 72115, 0, 0, "paid"),
    "INV-1007": (78000, 0, 0, 0, "void"),
    "INV-1008": (65000, 65000, 0, 0, "paid"),
    "INV-1009": (45000, 20000, 0, 25000, "partially_paid"),
    "INV-1010": (115934, 0, 5170, 110764, "partially_paid"),
    "INV-1011": (52490, 0, 0, 52490, "unpaid"),
    "INV-1012": (38000, 0, 0, 38000, "unpaid"),
    "INV-1013": (60499, 0, 0, 60499, "unpaid"),
    "INV-1014": (56000, 27885, 0, 28115, "partially_paid"),
}


_NUMBER = "@@number@@"


def sample() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"), parse_float=Decimal)


def dumps(data: object) -> bytes:
    """Write JSON as Xero does: Decimal amounts as JSON numbers, digits kept."""

    def mark(value: object) -> object:
        if isinstance(value, Decimal):
            return f"{_NUMBER}{value}{_NUMBER}"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text_ = json.dumps(mark(data), ensure_ascii=False)
    return re.sub(f'"{_NUMBER}(.*?){_NUMBER}"', r"\1", text_).encode()


def by_number(data: dict, collection: str, number: str) -> dict:
    key = "CreditNoteNumber" if collection == "CreditNotes" else "InvoiceNumber"
    return next(d for d in data[collection] if d[key] == number)


def parse_bytes(tmp_path: Path, data: bytes, name: str = "export.json") -> list:
    path = tmp_path / name
    path.write_bytes(data)
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(data), size=len(data)
    )
    return list(XeroApi().parse(export, ParseOptions()))


def parse_json(tmp_path: Path, data: object) -> list:
    return parse_bytes(tmp_path, dumps(data))


def head(data: bytes, name: str = "x.json") -> Head:
    first = data[:HEAD_SIZE]
    return Head(name, first, decode_head(first, sniff_bytes(data)))


def write(tmp_path: Path, data: object, name: str = "xero.json") -> Path:
    path = tmp_path / name
    path.write_bytes(dumps(data))
    return path


def of(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def invoice_rows(store) -> dict[str, tuple]:
    with store.read() as conn:
        return {
            r.number: (
                r.total_minor,
                r.paid_minor,
                r.credited_minor,
                r.balance_minor,
                r.status,
            )
            for r in conn.execute(text("SELECT * FROM invoice"))
        }


def envelope(**collections: list) -> dict:
    return {
        "Id": "2b0d3a6c-0000-4000-8000-000000000001",
        "Status": "OK",
        "ProviderName": "Test",
        "DateTimeUTC": "/Date(1751325123000)/",
        **collections,
    }


def invoice(number: str = "INV-9001", **fields: object) -> dict:
    record = {
        "Type": "ACCREC",
        "InvoiceID": f"id-{number}",
        "InvoiceNumber": number,
        "Contact": {"ContactID": "c-1", "Name": "Harbor Test Customer"},
        "Date": "/Date(1740960000000+0000)/",
        "DueDate": "/Date(1743552000000+0000)/",
        "Status": "AUTHORISED",
        "SubTotal": Decimal("100.00"),
        "TotalTax": Decimal("0.00"),
        "Total": Decimal("100.00"),
        "AmountDue": Decimal("100.00"),
        "AmountPaid": Decimal("0.00"),
        "AmountCredited": Decimal("0.00"),
        "CurrencyCode": "USD",
        "UpdatedDateUTC": "/Date(1743195857000+0000)/",
        "LineItems": [],
    }
    record.update(fields)
    return record


def payment(
    pid: str = "p-1", invoice_number: str = "INV-9001", **fields: object
) -> dict:
    record = {
        "PaymentID": pid,
        "Date": "/Date(1743120000000+0000)/",
        "Amount": Decimal("40.00"),
        "Reference": "CHK-1",
        "PaymentType": "ACCRECPAYMENT",
        "Status": "AUTHORISED",
        "UpdatedDateUTC": "/Date(1743190200000+0000)/",
        "Invoice": {
            "Type": "ACCREC",
            "InvoiceID": f"id-{invoice_number}",
            "InvoiceNumber": invoice_number,
            "Contact": {"ContactID": "c-1", "Name": "Harbor Test Customer"},
            "CurrencyCode": "USD",
        },
    }
    record.update(fields)
    return record


# -- the reference ledger -------------------------------------------------------------


def test_reference_sample_reproduces_every_balance_of_section_10(store, settings):
    result = run_import(store, settings, SAMPLE)
    assert (result.status, result.adapter, result.rejected) == (
        "applied",
        "xero_api",
        [],
    )
    got = balances_by_account(store)
    assert len(got) == len(REFERENCE)
    for name, expected in REFERENCE.items():
        b = got[f"{name}|USD"]
        assert (
            b["invoice_count"],
            b["void_invoice_count"],
            b["total_billed"],
            b["total_paid"],
            b["balance_due"],
            b["credit_note_count"],
            b["credit_note_total"],
            b["remaining_credit"],
            b["net_balance"],
        ) == expected, name
        assert b["unapplied_payments"] == "0.00", name


def test_reference_sample_reproduces_every_invoice_of_section_10(store, settings):
    run_import(store, settings, SAMPLE)
    assert invoice_rows(store) == PER_INVOICE


def test_credit_notes_and_allocations_are_counted_once(store, settings):
    run_import(store, settings, SAMPLE)
    with store.read() as conn:
        notes = {
            r.number: (r.total_minor, r.applied_minor, r.remaining_minor, r.status)
            for r in conn.execute(text("SELECT * FROM credit_note"))
        }
        credit = conn.execute(
            text(
                "SELECT i.number, a.amount_minor FROM allocation a "
                "JOIN invoice i ON i.id = a.invoice_id WHERE a.kind = 'credit'"
            )
        ).all()
    assert notes == {
        "CN-0001": (5000, 5000, 0, "applied"),
        "CN-0002": (5170, 5170, 0, "applied"),
        "CN-0003": (7500, 0, 7500, "open"),
    }
    # The invoices' CreditNotes[] stubs describe the same allocations: not added again.
    assert sorted(credit) == [("INV-1005", 5000), ("INV-1010", 5170)]
    # Each PaymentID once, although every paid invoice also lists it in Payments[]:
    # section 10's 8 payments, the split cheque being two Xero payments.
    assert count(store, "payment") == 9
    assert count(store, "allocation", "kind = 'cash'") == 9


def test_split_cheque_is_two_payments_each_settling_one_invoice(store, settings):
    run_import(store, settings, SAMPLE)
    with store.read() as conn:
        rows = conn.execute(
            text(
                "SELECT p.reference, p.amount_minor, p.unapplied_minor, i.number "
                "FROM payment p JOIN allocation a ON a.payment_id = p.id "
                "JOIN invoice i ON i.id = a.invoice_id WHERE p.reference = '20931'"
            )
        ).all()
    assert sorted(rows) == [
        ("20931", 27885, 0, "INV-1014"),
        ("20931", 72115, 0, "INV-1006"),
    ]


def test_accounts_are_keyed_by_contact_id_with_name_and_email(store, settings):
    run_import(store, settings, SAMPLE)
    with store.read() as conn:
        row = conn.execute(
            text("SELECT external_key, name, email FROM account WHERE name = :n"),
            {"n": "Bayview Café"},
        ).one()
    assert tuple(row) == (
        "27a6fd53-6f83-521e-a6d3-d534adc354db",
        "Bayview Café",
        "owner@bayviewcafe.example",
    )


def test_envelope_time_is_the_export_as_of(tmp_path, store, settings):
    items = parse_bytes(tmp_path, SAMPLE.read_bytes())
    assert items[0] == ExportInfo(as_of=datetime(2025, 6, 30, 23, 12, 3))
    result = run_import(store, settings, SAMPLE)
    batches = IMPORT_BATCHES
    with store.read() as conn:
        as_of = conn.execute(
            select(batches.c.as_of).where(batches.c.id == result.batch_id)
        ).scalar_one()
    assert as_of == datetime(2025, 6, 30, 23, 12, 3)


def test_envelope_time_after_the_records_is_not_an_as_of(tmp_path):
    data = {"Invoices": [invoice()], "DateTimeUTC": "/Date(1751325123000)/"}
    items = parse_json(tmp_path, data)
    assert of(items, ExportInfo) == []
    assert len(of(items, DocumentRecord)) == 1


def test_reimporting_the_same_records_in_new_bytes_changes_nothing(
    tmp_path, store, settings
):
    run_import(store, settings, SAMPLE)
    minified = write(tmp_path, sample(), "minified.json")
    again = run_import(store, settings, minified)
    assert (again.status, again.created, again.updated, again.unchanged) == (
        "applied",
        0,
        0,
        26,
    )


# -- detection ------------------------------------------------------------------------


def test_leaves_the_other_formats_reference_samples_alone():
    # The bundled samples of every format are checked by tests/adapters/test_contract.py;
    # these are the shared reference samples, where this checkout has them.
    for path in sorted(FORMATS_SAMPLES.glob("*")):
        if path.name != "xero_api_invoices.json":
            assert not XeroApi.detect(head(path.read_bytes())), path.name


def test_detects_its_own_samples_and_real_single_collection_responses():
    for path in (SAMPLES / "xero_api").glob("*.json"):
        if not path.name.endswith(".expected.json"):
            assert XeroApi.detect(head(path.read_bytes())), path.name
    for collection, item in (
        ("Invoices", invoice()),
        ("Payments", payment()),
        ("Contacts", {"ContactID": "c-1", "Name": "A"}),
        ("CreditNotes", {"CreditNoteID": "x"}),
    ):
        assert XeroApi.detect(head(dumps(envelope(**{collection: [item]}))))
    # An empty page of a real response is still a Xero response.
    assert XeroApi.detect(head(dumps(envelope(Invoices=[]))))


def test_is_not_fooled_by_json_that_only_shares_a_key_name():
    assert not XeroApi.detect(head(b'{"Invoices": [{"id": 1, "total": 5}]}'))
    assert not XeroApi.detect(head(b'{"QueryResponse": {"Invoice": [{"Id": "1"}]}}'))
    assert not XeroApi.detect(head(b'[{"InvoiceID": "x"}]'))
    assert not XeroApi.detect(head(b"InvoiceID,Total\nx,5\n"))
    assert not XeroApi.detect(head(b"\x89PNG\r\n\x1a\n\x00\x00"))


def test_generic_csv_does_not_claim_xero_json_and_registry_picks_xero():
    for data in (SAMPLE.read_bytes(), dumps(sample())):  # pretty and minified
        assert not GenericCsv.detect(head(data))
        assert detect_adapter(head(data)) is XeroApi


# -- documents ------------------------------------------------------------------------


def test_statuses_map_to_lifecycles_and_paid_flags(tmp_path):
    statuses = ["DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"]
    data = envelope(
        Invoices=[invoice(f"INV-{i}", Status=s) for i, s in enumerate(statuses)]
    )
    docs = of(parse_json(tmp_path, data), DocumentRecord)
    assert [(d.lifecycle, d.paid_flag) for d in docs] == [
        ("draft", None),
        ("draft", None),
        ("issued", None),
        ("issued", True),
        ("void", None),
        ("deleted", None),
    ]


def test_voided_invoice_keeps_its_total_and_leaves_the_totals(
    store, settings, tmp_path
):
    voided = invoice(
        "INV-V", Status="VOIDED", Total=Decimal("780.00"), AmountDue=Decimal("0.00")
    )
    data = envelope(Invoices=[invoice(), voided])
    run_import(store, settings, write(tmp_path, data))
    rows = invoice_rows(store)
    assert rows["INV-V"] == (78000, 0, 0, 0, "void")
    [b] = balances_by_account(store).values()
    assert (b["invoice_count"], b["void_invoice_count"], b["total_billed"]) == (
        1,
        1,
        "100.00",
    )
    assert b["balance_due"] == "100.00"


def test_drafts_and_deleted_invoices_stay_out_of_balances(store, settings, tmp_path):
    data = envelope(
        Invoices=[
            invoice("INV-1"),
            invoice("INV-2", Status="DRAFT", Date=None, DueDate=None),
            invoice("INV-3", Status="DELETED"),
        ]
    )
    result = run_import(store, settings, write(tmp_path, data))
    assert result.rejected == []
    [b] = balances_by_account(store).values()
    assert (b["invoice_count"], b["total_billed"], b["balance_due"]) == (
        1,
        "100.00",
        "100.00",
    )
    assert invoice_rows(store)["INV-2"][4] == "draft"
    assert invoice_rows(store)["INV-3"][4] == "deleted"


def test_bills_and_purchase_credit_notes_are_skipped_with_a_note(tmp_path):
    data = envelope(
        Invoices=[
            invoice("BILL-7", Type="ACCPAY"),
            invoice("BILL-9", Type="ACCPAY"),
            invoice(),
        ],
        CreditNotes=[
            {"Type": "ACCPAYCREDIT", "CreditNoteID": "x", "CreditNoteNumber": "SC-1"}
        ],
    )
    items = parse_json(tmp_path, data)
    assert [d.number for d in of(items, DocumentRecord)] == ["INV-9001"]
    notes = [n.message for n in of(items, Note)]
    assert any(
        m.startswith("skipped 2 bills (Invoices of Type ACCPAY), e.g. BILL-7, BILL-9:")
        for m in notes
    )
    assert any(m.startswith("skipped 1 purchase credit note (") for m in notes)
    assert of(items, Rejection) == []


def test_unknown_type_and_status_reject_the_record(tmp_path):
    data = envelope(
        Invoices=[
            invoice("INV-1", Type="ACCRECCREDIT"),
            invoice("INV-2", Status="PENDING"),
            invoice("INV-3", Type=None),
            invoice("INV-4"),
        ]
    )
    items = parse_json(tmp_path, data)
    assert [(r.record, r.column, r.value) for r in of(items, Rejection)] == [
        ("invoice INV-1 (Invoices[0])", "Type", "ACCRECCREDIT"),
        ("invoice INV-2 (Invoices[1])", "Status", "PENDING"),
        ("invoice INV-3 (Invoices[2])", "Type", ""),
    ]
    assert [d.number for d in of(items, DocumentRecord)] == ["INV-4"]


def test_money_is_decimal_exactly_as_written_never_float(tmp_path):
    raw = dumps(envelope(Invoices=[invoice()]))
    assert b'"Total": 100.00,' in raw
    for written in (b"100.10", b"1.001E+2", b'"100.10"'):
        data = raw.replace(b'"Total": 100.00,', b'"Total": ' + written + b",")
        [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
        assert isinstance(doc.total, Decimal) and doc.total == Decimal("100.10")
    [line] = of(
        parse_bytes(tmp_path, raw.replace(b'"Total": 100.00,', b'"Total": 100.1,')),
        DocumentRecord,
    )
    assert str(line.total) == "100.1"


def test_a_bad_amount_rejects_its_record_with_field_and_value(tmp_path):
    bad = invoice("INV-2", Total="N/A")
    bad_line = invoice(
        "INV-3", LineItems=[{"Description": "Pipe", "LineAmount": {"x": 1}}]
    )
    data = envelope(Invoices=[invoice("INV-1"), bad, bad_line, invoice("INV-4")])
    items = parse_json(tmp_path, data)
    assert [(r.record, r.column, r.value, r.reason) for r in of(items, Rejection)] == [
        (
            "invoice INV-2 (Invoices[1])",
            "Total",
            "N/A",
            "expected an amount (a JSON number such as 1234.56)",
        ),
        (
            "invoice INV-3 (Invoices[2])",
            "LineItems[0].LineAmount",
            '{"x": 1}',
            "expected an amount (a JSON number such as 1234.56)",
        ),
    ]
    assert [d.number for d in of(items, DocumentRecord)] == ["INV-1", "INV-4"]


def test_negative_invoice_total_is_rejected_not_flipped(tmp_path):
    data = envelope(Invoices=[invoice(Total=Decimal("-5.00"))])
    [r] = of(parse_json(tmp_path, data), Rejection)
    assert r.column == "Total" and "credits are CreditNotes" in r.reason


def test_missing_contact_id_rejects_the_invoice(tmp_path):
    data = envelope(Invoices=[invoice(Contact={"Name": "No Id"})])
    [r] = of(parse_json(tmp_path, data), Rejection)
    assert (r.column, r.reason) == ("Contact.ContactID", "expected a ContactID")


def test_line_items_are_kept_in_order_with_four_decimal_quantities(tmp_path):
    items = parse_bytes(tmp_path, SAMPLE.read_bytes())
    first = of(items, DocumentRecord)[0]
    assert [(line.position, line.item) for line in first.lines] == [
        (1, "SERVICE-CALL"),
        (2, "PLUMBER"),
        (3, "WATER-HEATER-50G"),
    ]
    assert first.lines[1].quantity == Decimal("4.0000")
    assert first.lines[2].tax == Decimal("76.40")
    assert (first.subtotal, first.tax, first.total) == (
        Decimal("1984.00"),
        Decimal("76.40"),
        Decimal("2060.40"),
    )


def test_credit_note_amounts_use_magnitude(tmp_path):
    data = envelope(
        CreditNotes=[
            {
                "Type": "ACCRECCREDIT",
                "CreditNoteID": "cn-1",
                "CreditNoteNumber": "CN-1",
                "Contact": {"ContactID": "c-1", "Name": "A"},
                "Date": "2025-06-12T00:00:00",
                "Status": "AUTHORISED",
                "Total": Decimal("-75.00"),
                "RemainingCredit": Decimal("-25.00"),
                "Allocations": [
                    {
                        "Amount": Decimal("-50.00"),
                        "Date": "/Date(1749686400000+0000)/",
                        "Invoice": {"InvoiceID": "id-INV-1"},
                    },
                    {
                        "Amount": Decimal("9.00"),
                        "IsDeleted": True,
                        "Invoice": {"InvoiceID": "id-INV-2"},
                    },
                ],
            }
        ]
    )
    items = parse_json(tmp_path, data)
    [cn] = of(items, DocumentRecord)
    assert (cn.kind, cn.total, cn.balance) == (
        "credit_note",
        Decimal("75.00"),
        Decimal("25.00"),
    )
    assert [
        (a.kind, a.invoice_ref, a.amount, a.credit_note_ref) for a in cn.allocations
    ] == [("credit", "id-INV-1", Decimal("50.00"), "cn-1")]
    assert any(
        "skipped 1 deleted credit allocation" in n.message for n in of(items, Note)
    )


# -- dates ----------------------------------------------------------------------------


def test_xero_dates_negative_epochs_offsets_and_iso_strings(tmp_path):
    data = envelope(
        Invoices=[
            # 1969-12-31 (a negative epoch broke tap-xero) and ISO fall-backs.
            invoice("INV-1", Date="/Date(-86400000+0000)/", DueDate=None,
                    DueDateString="1970-01-30T00:00:00"),
            # Midnight in Auckland is still the previous day in UTC.
            invoice("INV-2", Date="/Date(1740913200000+1300)/",
                    DateString="2025-03-03T00:00:00"),
            invoice("INV-3", Date="2025-03-03", UpdatedDateUTC="2025-03-28T19:30:00Z"),
            invoice("INV-4", Date="/Date(1740960000000)/",
                    UpdatedDateUTC="2025-03-28T21:30:00+02:00"),
        ]
    )  # fmt: skip
    docs = of(parse_json(tmp_path, data), DocumentRecord)
    assert [(d.issue_date, d.due_date) for d in docs] == [
        (date(1969, 12, 31), date(1970, 1, 30)),
        (date(2025, 3, 3), date(2025, 4, 2)),
        (date(2025, 3, 3), date(2025, 4, 2)),
        (date(2025, 3, 3), date(2025, 4, 2)),
    ]
    assert docs[0].updated_at == datetime(2025, 3, 28, 21, 4, 17)
    assert docs[2].updated_at == datetime(2025, 3, 28, 19, 30)
    assert docs[3].updated_at == datetime(2025, 3, 28, 19, 30)


def test_iso_dates_with_an_offset_as_connector_pipelines_write_them(tmp_path):
    """`2021-08-31T00:00:00+00:00` (a connector's output) is read in every date field."""
    data = envelope(
        Invoices=[
            invoice("INV-1", Date="2021-08-31T00:00:00+00:00",
                    DueDate="2021-09-30T00:00:00+00:00",
                    DateString="2021-08-31T00:00:00",
                    UpdatedDateUTC="2021-09-01T04:05:06.123+00:00"),
            # The day written is the day, whatever the zone's clock says in UTC.
            invoice("INV-2", Date="2021-08-31T00:00:00+13:00",
                    DueDate="2021-09-30T23:59:59-05:00"),
        ],
        Payments=[payment("p-1", "INV-1", Date="2021-09-15T00:00:00+00:00")],
    )  # fmt: skip
    items = parse_json(tmp_path, data)
    assert of(items, Rejection) == []
    docs = of(items, DocumentRecord)
    assert [(d.issue_date, d.due_date) for d in docs] == [
        (date(2021, 8, 31), date(2021, 9, 30)),
        (date(2021, 8, 31), date(2021, 9, 30)),
    ]
    assert docs[0].updated_at == datetime(2021, 9, 1, 4, 5, 6, 123000)
    [pay] = of(items, PaymentRecord)
    assert pay.date == date(2021, 9, 15)
    bad = parse_json(
        tmp_path, envelope(Invoices=[invoice(Date="2021-08-31T25:00:00Z")])
    )
    assert [(r.column, r.value) for r in of(bad, Rejection)] == [
        ("Date", "2021-08-31T25:00:00Z")
    ]


def test_unreadable_or_contradicting_dates_reject_the_record(tmp_path):
    data = envelope(
        Invoices=[
            invoice("INV-1", Date="03/04/2025"),
            invoice("INV-2", Date="/Date(1740960000000+0000)/",
                    DateString="2025-03-04T00:00:00"),
            invoice("INV-3", DueDate="/Date(99999999999999999)/"),
            invoice("INV-4", Date="2025-02-30"),
            invoice("INV-5", UpdatedDateUTC="/Date(9999999999999999+0000)/"),
        ]
    )  # fmt: skip
    rejections = of(parse_json(tmp_path, data), Rejection)
    assert [(r.column, r.value) for r in rejections] == [
        ("Date", "03/04/2025"),
        ("Date", "/Date(1740960000000+0000)/"),
        ("DueDate", "/Date(99999999999999999)/"),
        ("Date", "2025-02-30"),
        ("UpdatedDateUTC", "/Date(9999999999999999+0000)/"),
    ]
    assert "naming the same day (2025-03-03 and 2025-03-04)" in rejections[1].reason


# -- payments -------------------------------------------------------------------------


def test_credit_note_refunds_and_supplier_payments_are_skipped_with_notes(
    tmp_path, store, settings
):
    data = envelope(
        Invoices=[invoice()],
        Payments=[
            payment("p-1"),
            payment(
                "p-2",
                PaymentType="ARCREDITPAYMENT",
                Reference="REFUND-1",
                Invoice=None,
                CreditNote={"CreditNoteID": "cn-1", "CreditNoteNumber": "CN-1"},
            ),
            payment("p-3", PaymentType="ACCPAYPAYMENT", Reference="EFT-9"),
        ],
    )
    items = parse_json(tmp_path, data)
    assert [p.external_id for p in of(items, PaymentRecord)] == ["p-1"]
    notes = " | ".join(n.message for n in of(items, Note))
    assert "skipped 1 refund to a customer" in notes and "REFUND-1" in notes
    assert "not cash received" in notes
    assert "skipped 1 supplier payment (" in notes and "EFT-9" in notes
    result = run_import(store, settings, write(tmp_path, data))
    [b] = balances_by_account(store).values()
    assert (b["total_paid"], b["balance_due"]) == ("40.00", "100.00")
    assert any("REFUND-1" in w for w in result.warnings)


def test_unknown_payment_type_is_rejected(tmp_path):
    data = envelope(Payments=[payment(PaymentType="MYSTERY")])
    [r] = of(parse_json(tmp_path, data), Rejection)
    assert (r.record, r.column, r.value) == (
        "payment CHK-1 (Payments[0])",
        "PaymentType",
        "MYSTERY",
    )


def test_payment_without_contact_takes_its_invoices_account_even_when_listed_first(
    tmp_path,
):
    orphan = payment("p-1")
    del orphan["Invoice"]["Contact"]
    del orphan["Invoice"]["CurrencyCode"]
    nzd = invoice(Contact={"ContactID": "c-9", "Name": "Kiwi Ltd"}, CurrencyCode="NZD")
    # Payments first, as a merged file may be written: the invoice arrives later.
    data = {"Payments": [orphan], "Invoices": [nzd]}
    items = parse_json(tmp_path, data)
    [pay] = of(items, PaymentRecord)
    assert (pay.account.key, pay.account.name, pay.currency) == (
        "c-9",
        "Kiwi Ltd",
        "NZD",
    )
    assert [a.invoice_ref for a in pay.allocations] == ["id-INV-9001"]


def test_payment_whose_account_cannot_be_known_is_rejected(tmp_path):
    orphan = payment("p-1", Reference="CHK-77")
    del orphan["Invoice"]["Contact"]
    items = parse_json(tmp_path, envelope(Payments=[orphan]))
    [r] = of(items, Rejection)
    assert r.record == "payment CHK-77 (Payments[0])"
    assert r.column == "Invoice.Contact"
    assert "or the paid invoice in the same file" in r.reason


def test_a_deleted_payment_stops_counting(tmp_path, store, settings):
    run_import(store, settings, SAMPLE)
    data = sample()
    pay = next(p for p in data["Payments"] if p["Reference"] == "MC-0912")
    pay.update(Status="DELETED", UpdatedDateUTC="/Date(1751000000000+0000)/")
    inv = by_number(data, "Invoices", "INV-1009")
    inv.update(
        AmountDue=Decimal("450.00"),
        AmountPaid=Decimal("0.00"),
        Payments=[],
        UpdatedDateUTC="/Date(1751000000000+0000)/",
    )
    delta = envelope(Invoices=[inv], Payments=[pay])
    result = run_import(store, settings, write(tmp_path, delta))
    assert (result.updated, result.rejected) == (2, [])
    b = balances_by_account(store)["Maple Street Dental|USD"]
    assert (b["total_paid"], b["balance_due"], b["net_balance"]) == (
        "2060.40",
        "450.00",
        "450.00",
    )
    assert invoice_rows(store)["INV-1009"] == (45000, 0, 0, 45000, "unpaid")
    assert count(store, "allocation", "kind = 'cash'") == 8


def test_an_older_version_never_overwrites_a_newer_one(tmp_path, store, settings):
    run_import(store, settings, SAMPLE)
    data = sample()
    pay = next(p for p in data["Payments"] if p["Reference"] == "MC-0912")
    pay.update(Status="DELETED", UpdatedDateUTC="/Date(1700000000000+0000)/")
    result = run_import(store, settings, write(tmp_path, envelope(Payments=[pay])))
    assert (result.updated, result.unchanged) == (0, 1)
    b = balances_by_account(store)["Maple Street Dental|USD"]
    assert b["total_paid"] == "2260.40"


def test_newer_updated_date_wins_within_one_file_whatever_the_order(
    tmp_path, store, settings
):
    newer = invoice(
        AmountDue=Decimal("0.00"),
        AmountPaid=Decimal("100.00"),
        Status="PAID",
        UpdatedDateUTC="/Date(1750000000000+0000)/",
    )
    older = invoice(UpdatedDateUTC="/Date(1740000000000+0000)/")
    run_import(store, settings, write(tmp_path, envelope(Invoices=[newer, older])))
    assert invoice_rows(store)["INV-9001"] == (10000, 10000, 0, 0, "paid")


def test_several_currencies_of_one_contact_stay_separate(tmp_path, store, settings):
    data = envelope(
        Invoices=[
            invoice("INV-1"),
            invoice("INV-2", CurrencyCode="NZD", Total=Decimal("250.00"),
                    AmountDue=Decimal("150.00"), AmountPaid=Decimal("100.00")),
        ],
        Payments=[
            payment("p-nzd", "INV-2", Amount=Decimal("100.00"),
                    Invoice={**payment()["Invoice"], "InvoiceID": "id-INV-2",
                             "CurrencyCode": "NZD"}),
        ],
    )  # fmt: skip
    run_import(store, settings, write(tmp_path, data))
    got = balances_by_account(store)
    usd, nzd = got["Harbor Test Customer|USD"], got["Harbor Test Customer|NZD"]
    assert (usd["total_billed"], usd["total_paid"], usd["balance_due"]) == (
        "100.00",
        "0.00",
        "100.00",
    )
    assert (nzd["total_billed"], nzd["total_paid"], nzd["balance_due"]) == (
        "250.00",
        "100.00",
        "150.00",
    )


def test_bad_currency_code_is_rejected(tmp_path):
    [r] = of(
        parse_json(tmp_path, envelope(Invoices=[invoice(CurrencyCode="usd$")])),
        Rejection,
    )
    assert (r.column, r.value) == ("CurrencyCode", "usd$")


# -- contacts and other collections ---------------------------------------------------


def test_contacts_become_accounts_and_suppliers_are_skipped(tmp_path, store, settings):
    contacts = envelope(
        Contacts=[
            {"ContactID": "c-1", "Name": "Café Lumière ", "EmailAddress": "ap@cafe.example",
             "IsCustomer": True, "IsSupplier": False},
            {"ContactID": "c-2", "Name": "Pipe Wholesale", "IsSupplier": True,
             "IsCustomer": False},
            {"ContactID": "c-3", "Name": "New Customer"},
            {"Name": "No Id"},
        ]
    )  # fmt: skip
    items = parse_json(tmp_path, contacts)
    accounts = of(items, AccountRecord)
    assert [(a.key, a.name, a.email) for a in accounts] == [
        ("c-1", "Café Lumière", "ap@cafe.example"),
        ("c-3", "New Customer", None),
    ]
    assert any("skipped 1 supplier contact (" in n.message for n in of(items, Note))
    [r] = of(items, Rejection)
    assert (r.record, r.column) == ("contact No Id (Contacts[3])", "ContactID")
    # A later invoice list whose nested contact has no e-mail keeps the address.
    run_import(store, settings, write(tmp_path, contacts, "contacts.json"))
    listed = invoice(Contact={"ContactID": "c-1", "Name": "Café Lumière"})
    run_import(store, settings, write(tmp_path, envelope(Invoices=[listed])))
    with store.read() as conn:
        row = conn.execute(
            text("SELECT name, email FROM account WHERE external_key = 'c-1'")
        ).one()
    assert tuple(row) == ("Café Lumière", "ap@cafe.example")


def test_an_overpayment_missing_its_contact_is_rejected_and_the_rest_imports(
    tmp_path,
):
    data = envelope(Invoices=[invoice()], Overpayments=[{"OverpaymentID": "o-1"}])
    items = parse_json(tmp_path, data)
    assert len(of(items, DocumentRecord)) == 1
    [rejected] = of(items, Rejection)
    assert rejected.record == "overpayment (Overpayments[0])"
    assert (rejected.column, rejected.reason) == (
        "Contact",
        "expected a Contact object with a ContactID",
    )


def test_items_that_are_not_objects_are_rejected_one_by_one(tmp_path):
    data = envelope(Invoices=[7, invoice()], Payments=["x"], Contacts=[None])
    items = parse_json(tmp_path, data)
    assert [(r.record, r.value) for r in of(items, Rejection)] == [
        ("invoice (Invoices[0])", "7"),
        ("payment (Payments[0])", "x"),
        ("contact (Contacts[0])", ""),
    ]
    assert len(of(items, DocumentRecord)) == 1


# -- whole files ----------------------------------------------------------------------


def test_encodings_bom_cp1252_and_utf16_read_the_same(tmp_path):
    text_ = json.dumps(envelope(Invoices=[invoice(Contact={"ContactID": "c", "Name": "O’Brien – Café"})]), default=str, ensure_ascii=False)  # fmt: skip
    for data in (
        text_.encode(),
        b"\xef\xbb\xbf" + text_.encode(),
        text_.encode("cp1252"),
        text_.encode("utf-16"),
    ):
        [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
        assert doc.account.name == "O’Brien – Café"


def test_a_truncated_download_rejects_the_whole_file(tmp_path, store, settings):
    data = SAMPLE.read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileRejected, match="not valid JSON"):
        parse_bytes(tmp_path, data[: len(data) // 2])
    result = run_import(store, settings, path, adapter="xero_api")
    assert result.status == "rejected" and "cut-off download" in result.reason
    assert count(store, "invoice") == 0 and count(store, "account") == 0


def test_json_that_is_no_xero_response_is_refused_when_forced(tmp_path):
    for data in (b'{"foo": 1}', b"[]", b'"Invoices"'):
        with pytest.raises(FileRejected, match="expected a Xero API response"):
            parse_bytes(tmp_path, data)
    assert parse_bytes(tmp_path, dumps(envelope(Invoices=[])))[1:] == []


# -- robustness -----------------------------------------------------------------------

_ITEM_TYPES = (
    AccountRecord,
    DocumentRecord,
    PaymentRecord,
    ExportInfo,
    Rejection,
    Note,
)


def _parse_only_adapter_errors(tmp_path: Path, data: bytes) -> None:
    try:
        items = parse_bytes(tmp_path, data)
    except AdapterError:
        return
    for item in items:
        assert isinstance(item, _ITEM_TYPES), item


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["/Date(-1+0000)/", "/Date(1e3)/", "/Date(1740960000000-9999)/",
                       "ACCREC", "ACCRECPAYMENT", "AUTHORISED", "PAID", "2025-13-01"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["Type", "Status", "Total", "Date", "Contact",
                                       "ContactID", "Invoice", "InvoiceID", "Amount",
                                       "LineItems", "Allocations", "CurrencyCode",
                                       "PaymentType", "PaymentID", "UpdatedDateUTC",
                                       "InvoiceNumber", "Name", "IsSupplier"]),
                      children, max_size=8),
    max_leaves=30,
)  # fmt: skip


@pytest.mark.slow  # long fuzz: many generated cases, most through a store
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    collection=st.sampled_from(["Invoices", "CreditNotes", "Payments", "Contacts"]),
    items=st.lists(_json, max_size=4),
    base=st.sampled_from([None, "invoice", "payment"]),
)
def test_arbitrary_json_values_raise_only_adapter_errors(
    tmp_path, collection, items, base
):
    if base == "invoice":
        items = [
            {**invoice(), **i} if isinstance(i, dict) else i
            for i in copy.deepcopy(items)
        ]
    elif base == "payment":
        items = [{**payment(), **i} if isinstance(i, dict) else i for i in items]
    _parse_only_adapter_errors(tmp_path, dumps(envelope(**{collection: items})))


def test_messy_delta_sample_places_each_payment_and_status(store, settings):
    """Payments listed before their invoices, a deleted payment, a refund, a void."""
    path = SAMPLES / "xero_api" / "payments_first_delta_bom_crlf.json"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf{\r\n")
    result = run_import(store, settings, path)
    assert [r["record"] for r in result.rejected] == [
        "invoice INV-2007 (Invoices[6])",
        "payment CASH 27/06 (Payments[5])",
    ]
    assert invoice_rows(store) == {
        "INV-2001": (40000, 15000, 0, 25000, "partially_paid"),  # the newer copy
        "INV-2002": (24000, 0, 4000, 20000, "partially_paid"),
        "INV-2003": (30000, 30000, 0, 0, "paid"),
        "INV-2004": (18000, 0, 0, 18000, "unpaid"),
        "INV-2005": (50000, 0, 0, 0, "void"),
        "INV-2006": (7500, 0, 0, 7500, "draft"),
    }
    with store.read() as conn:
        payments = conn.execute(
            text(
                "SELECT p.reference, p.currency, p.lifecycle, a.name FROM payment p "
                "JOIN account a ON a.id = p.account_id"
            )
        ).all()
    assert sorted(payments) == [
        ("CHK 5498", "USD", "deleted", "Northgate Apartments"),
        ("CHK 5512", "USD", "active", "Northgate Apartments"),
        ("POLi 88213", "NZD", "active", "Kōwhai Holiday Homes"),
    ]


def test_a_bad_contact_email_is_refused_once_and_its_invoices_kept(tmp_path):
    contact = {"ContactID": "c-9", "Name": "Kiosk", "EmailAddress": "kiosk at marina"}
    invoices = [
        invoice(f"INV-{n}", InvoiceID=f"i-{n}", Contact=dict(contact)) for n in (1, 2)
    ]
    items = parse_json(tmp_path, envelope(Invoices=invoices))
    assert [d.account.email for d in of(items, DocumentRecord)] == [None, None]
    [refused] = of(items, Rejection)
    assert (refused.record, refused.column) == ("contact Kiosk", "Contact.EmailAddress")
