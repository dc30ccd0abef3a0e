"""QuickBooks Online API JSON: envelopes, customers, documents, payments, bad input."""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError, FileRejected
from adapters.generic_csv import GenericCsv
from adapters.quickbooks_api import QuickBooksApi
from adapters.toolkit.text import decode_head, sniff_bytes
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Note,
    PaymentRecord,
    Rejection,
)
from tests.conftest import SAMPLES
from tests.helpers import balances_by_account, run_import

SAMPLE_DIR = SAMPLES / "quickbooks_api"
REFERENCE = SAMPLE_DIR / "harbor_ledger_batch.json"
FORMAT_SAMPLES = Path("/work/shared/formats/samples")

# FORMATS.md section 10: billed, cash paid, balance due, credit notes (count, total),
# remaining credit, net; invoice count (void count).
EXPECTED = {
    "Maple Street Dental": ("2510.40", "2260.40", "250.00", 0, "0.00", "0.00", "250.00", 2, 0),
    "Oakridge Property Management": ("1906.15", "1625.00", "281.15", 0, "0.00", "0.00", "281.15", 3, 0),
    "Jenna Alvarez": ("730.52", "205.62", "524.90", 0, "0.00", "0.00", "524.90", 2, 0),
    "Bayview Café": ("1108.20", "300.00", "808.20", 0, "0.00", "0.00", "808.20", 2, 0),
    "Thomas & Rita Okafor": ("943.80", "288.81", "604.99", 1, "50.00", "0.00", "604.99", 2, 0),
    "Pinecrest HOA": ("650.00", "650.00", "0.00", 1, "75.00", "75.00", "-75.00", 1, 1),
    "Lighthouse Laundromat": ("1159.34", "0.00", "1107.64", 1, "51.70", "0.00", "1107.64", 1, 0),
}  # fmt: skip


# -- helpers -------------------------------------------------------------------------


def parse_bytes(tmp_path: Path, data: bytes) -> list:
    path = tmp_path / "export.json"
    path.write_bytes(data)
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(data), size=len(data)
    )
    return list(QuickBooksApi().parse(export, ParseOptions()))


def parse_json(tmp_path: Path, obj: Any) -> list:
    return parse_bytes(tmp_path, json.dumps(obj).encode())


def of(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def head(data: bytes) -> Head:
    data = data[: 64 * 1024]
    return Head("x", data, decode_head(data, sniff_bytes(data)))


def reference() -> dict[str, Any]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def entities(kind: str) -> list[dict[str, Any]]:
    """The reference sample's entities of one kind (fresh copies)."""
    for item in reference()["BatchItemResponse"]:
        if kind in item["QueryResponse"]:
            return item["QueryResponse"][kind]
    raise KeyError(kind)


def invoice(**changes: Any) -> dict[str, Any]:
    """Invoice 1005 of the reference sample (Id 205, customer 62), with changes."""
    base = copy.deepcopy(entities("Invoice")[4])
    base.update(changes)
    return base


def payment(total: str, lines: list[tuple[str, str, str]], **changes: Any) -> dict:
    base = {
        "Id": "900",
        "SyncToken": "0",
        "TxnDate": "2025-06-01",
        "CustomerRef": {"value": "62", "name": "Thomas & Rita Okafor"},
        "PaymentRefNum": "777",
        "TotalAmt": float(total),
        "UnappliedAmt": 0,
        "Line": [
            {"Amount": float(a), "LinkedTxn": [{"TxnId": i, "TxnType": t}]}
            for t, i, a in lines
        ],
    }
    base.update(changes)
    return base


def query(kind: str, *items: dict) -> dict:
    return {"QueryResponse": {kind: list(items), "startPosition": 1}, "time": "x"}


def write(tmp_path: Path, name: str, obj: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


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


# -- the reference ledger ------------------------------------------------------------


def test_reference_sample_reproduces_every_balance_of_section_10(store, settings):
    result = run_import(store, settings, REFERENCE)
    assert (result.status, result.adapter, result.rejected) == (
        "applied",
        "quickbooks_api",
        [],
    )
    got = balances_by_account(store)
    assert len(got) == len(EXPECTED)
    for name, expected in EXPECTED.items():
        b = got[f"{name}|USD"]
        assert (
            b["total_billed"],
            b["total_paid"],
            b["balance_due"],
            b["credit_note_count"],
            b["credit_note_total"],
            b["remaining_credit"],
            b["net_balance"],
            b["invoice_count"],
            b["void_invoice_count"],
        ) == expected, name
        assert b["unapplied_payments"] == "0.00"


def test_reference_sample_per_invoice_figures(store, settings):
    run_import(store, settings, REFERENCE)
    rows = invoice_rows(store)
    assert rows["1001"] == (206040, 206040, 0, 0, "paid")
    assert rows["1004"] == (72820, 30000, 0, 42820, "partially_paid")
    # Payment 405: an invoice line of 338.81 = cheque 288.81 + credit memo CM-101 50.00.
    assert rows["1005"] == (33881, 28881, 5000, 0, "paid")
    assert rows["1006"] == (72115, 72115, 0, 0, "paid")
    # QuickBooks zeroes a void invoice; with no earlier copy stored the total is 0.
    assert rows["1007"][3:] == (0, "void")
    assert rows["1009"] == (45000, 20000, 0, 25000, "partially_paid")
    # Zero-cash payment 409 only applies credit memo CM-102.
    assert rows["1010"] == (115934, 0, 5170, 110764, "partially_paid")
    assert rows["1011"] == (52490, 0, 0, 52490, "unpaid")
    assert rows["1014"] == (56000, 27885, 0, 28115, "partially_paid")


def test_invoice_only_export_cannot_tell_cash_paid_until_payments_arrive(
    store, settings, tmp_path
):
    invoices = write(tmp_path, "inv.json", query("Invoice", *entities("Invoice")))
    run_import(store, settings, invoices)
    got = balances_by_account(store)
    for name, expected in EXPECTED.items():
        b = got[f"{name}|USD"]
        assert (b["total_billed"], b["balance_due"]) == (expected[0], expected[2]), name
        # Every account has a settled invoice; cash vs credit is not in an Invoice.
        assert b["total_paid"] is None, name

    rest = {
        "BatchItemResponse": [
            {"QueryResponse": {kind: entities(kind)}, "bId": kind}
            for kind in ("Customer", "CreditMemo", "Payment")
        ]
    }
    run_import(store, settings, write(tmp_path, "rest.json", rest))
    got = balances_by_account(store)
    for name, expected in EXPECTED.items():
        b = got[f"{name}|USD"]
        assert (b["total_paid"], b["net_balance"]) == (expected[1], expected[6]), name
    assert invoice_rows(store)["1005"] == (33881, 28881, 5000, 0, "paid")


def test_split_cheque_and_zero_cash_payment_allocations(store, settings):
    run_import(store, settings, REFERENCE)
    with store.read() as conn:
        rows = conn.execute(
            text(
                "SELECT p.reference, p.amount_minor, a.kind, i.number, c.number, "
                "a.amount_minor FROM allocation a JOIN payment p ON p.id = a.payment_id "
                "JOIN invoice i ON i.id = a.invoice_id "
                "LEFT JOIN credit_note c ON c.id = a.credit_note_id "
                "WHERE p.external_id IN ('405', '408', '409') ORDER BY p.external_id, a.kind, i.number"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("5520", 28881, "cash", "1005", None, 28881),
        ("5520", 28881, "credit", "1005", "CM-101", 5000),
        ("20931", 100000, "cash", "1006", None, 72115),
        ("20931", 100000, "cash", "1014", None, 27885),
        (None, 0, "credit", "1010", "CM-102", 5170),
    ]


def test_reference_sample_parses_to_decimal_records_in_file_order(tmp_path):
    items = parse_bytes(tmp_path, REFERENCE.read_bytes())
    assert [type(i).__name__ for i in items] == (
        ["AccountRecord"] * 7 + ["DocumentRecord"] * 17 + ["PaymentRecord"] * 9
    )
    docs = of(items, DocumentRecord)
    inv = next(d for d in docs if d.number == "1005")
    assert (inv.external_id, inv.account.key, inv.total, inv.tax, inv.balance) == (
        "205",
        "62",
        Decimal("338.81"),
        Decimal("7.81"),
        Decimal("0.00"),
    )
    assert all(
        isinstance(v, Decimal)
        for d in docs
        for v in (d.total, d.tax, d.balance, *(line.amount for line in d.lines))
    )
    assert (inv.version, inv.updated_at.isoformat(), inv.currency) == (
        1,
        "2025-05-05T23:40:05",
        "USD",
    )
    assert inv.issue_date.isoformat() == "2025-04-08"
    assert inv.due_date.isoformat() == "2025-05-08"
    cm = next(d for d in docs if d.number == "CM-103")
    assert (cm.kind, cm.total, cm.balance) == (
        "credit_note",
        Decimal("75.00"),
        Decimal("75.00"),
    )


# -- customers and accounts ----------------------------------------------------------


def test_customer_becomes_an_account_keyed_on_its_id(tmp_path):
    [account] = of(
        parse_json(tmp_path, query("Customer", entities("Customer")[4])), AccountRecord
    )
    assert account == AccountRecord(
        key="62", name="Thomas & Rita Okafor", email="okafor.family@example.net"
    )


def test_account_key_is_the_same_with_or_without_the_customer_entity(
    store, settings, tmp_path
):
    run_import(
        store, settings, write(tmp_path, "inv.json", query("Invoice", invoice()))
    )
    run_import(
        store,
        settings,
        write(tmp_path, "cust.json", query("Customer", entities("Customer")[4])),
    )
    with store.read() as conn:
        accounts = conn.execute(
            text("SELECT external_key, name, email FROM account")
        ).all()
    assert [tuple(a) for a in accounts] == [
        ("62", "Thomas & Rita Okafor", "okafor.family@example.net")
    ]


def test_sub_customers_nest_under_their_parents_by_id(store, settings):
    run_import(store, settings, SAMPLE_DIR / "northgate_sites_batch.json")
    got = balances_by_account(store)
    assert got["12 Birch Ln|USD"]["parent"] == "Northgate Rentals"
    assert got["Unit 3B|USD"]["parent"] == "12 Birch Ln"
    assert got["Unit 3B|USD"]["account_key"] == "72"


def test_sub_customer_named_only_by_a_transaction_is_linked_later(
    store, settings, tmp_path
):
    job = {"value": "71", "name": "Northgate Rentals:12 Birch Ln"}
    first = run_import(
        store,
        settings,
        write(tmp_path, "a.json", query("Invoice", invoice(CustomerRef=job))),
    )
    assert any("named only by their transactions" in w for w in first.warnings)
    assert balances_by_account(store)["12 Birch Ln|USD"]["parent"] is None

    customers = [
        {"Id": "70", "SyncToken": "0", "DisplayName": "Northgate Rentals", "FullyQualifiedName": "Northgate Rentals"},
        {"Id": "71", "SyncToken": "0", "DisplayName": "12 Birch Ln", "Job": True,
         "FullyQualifiedName": "Northgate Rentals:12 Birch Ln", "ParentRef": {"value": "70"}},
    ]  # fmt: skip
    run_import(
        store, settings, write(tmp_path, "b.json", query("Customer", *customers))
    )
    got = balances_by_account(store)
    assert got["12 Birch Ln|USD"]["parent"] == "Northgate Rentals"
    assert got["12 Birch Ln|USD"]["account_key"] == "71"


def test_parent_is_found_by_name_when_its_customer_is_in_the_file(tmp_path):
    parent = {"Id": "70", "SyncToken": "0", "DisplayName": "Northgate Rentals"}
    job = {"value": "71", "name": "Northgate Rentals:12 Birch Ln"}
    items = parse_json(
        tmp_path,
        {
            "BatchItemResponse": [
                {"QueryResponse": {"Customer": [parent]}, "bId": "1"},
                {"QueryResponse": {"Invoice": [invoice(CustomerRef=job)]}, "bId": "2"},
            ]
        },
    )
    [doc] = of(items, DocumentRecord)
    assert (doc.account.key, doc.account.name, doc.account.parent_key) == (
        "71",
        "12 Birch Ln",
        "70",
    )
    assert not of(items, Note)


# -- envelopes -------------------------------------------------------------------------


ENVELOPES = {
    "query": lambda inv: {"QueryResponse": {"Invoice": [inv], "maxResults": 1}, "time": "2025-06-30T10:00:00Z"},
    "batch": lambda inv: {"BatchItemResponse": [{"QueryResponse": {"Invoice": [inv]}, "bId": "b1"}]},
    "batch single": lambda inv: {"BatchItemResponse": [{"Invoice": inv, "bId": "b1"}]},
    "single read": lambda inv: {"Invoice": inv, "time": "2025-06-30T10:00:00Z"},
    "plain list": lambda inv: [inv],
}  # fmt: skip


@pytest.mark.parametrize("envelope", sorted(ENVELOPES))
def test_every_envelope_is_detected_and_yields_the_same_invoice(tmp_path, envelope):
    data = json.dumps(ENVELOPES[envelope](invoice())).encode()
    assert QuickBooksApi.detect(head(data))
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert (doc.external_id, doc.number, doc.total, doc.account.key) == (
        "205",
        "1005",
        Decimal("338.81"),
        "62",
    )


def test_plain_list_elements_are_told_apart_by_their_fields(tmp_path):
    items = parse_json(
        tmp_path,
        [
            entities("Customer")[0],
            entities("Invoice")[0],
            entities("CreditMemo")[0],
            entities("Payment")[0],
            {"Id": "1", "SyncToken": "0", "TxnStatus": "Pending", "TotalAmt": 5},
        ],
    )
    assert [type(i).__name__ for i in items] == [
        "AccountRecord", "DocumentRecord", "DocumentRecord", "PaymentRecord", "Rejection",
    ]  # fmt: skip
    assert [d.kind for d in of(items, DocumentRecord)] == ["invoice", "credit_note"]
    assert "the 1st element in the file" in items[-1].reason


def test_time_before_the_records_becomes_the_export_as_of(tmp_path):
    items = parse_json(
        tmp_path,
        {
            "time": "2025-06-30T16:12:03.421-07:00",
            "QueryResponse": {"Invoice": [invoice()]},
        },
    )
    assert isinstance(items[0], ExportInfo)
    assert items[0].as_of.isoformat() == "2025-06-30T23:12:03.421000"
    assert isinstance(items[1], DocumentRecord)


def test_time_after_the_records_is_not_reported_as_their_as_of(tmp_path):
    items = parse_json(
        tmp_path,
        {"QueryResponse": {"Invoice": [invoice()]}, "time": "2025-06-30T10:00:00Z"},
    )
    assert not of(items, ExportInfo)


def test_time_first_sample_records_its_as_of_on_the_batch(store, settings):
    result = run_import(
        store, settings, SAMPLE_DIR / "invoices_query_bom_time_first.json"
    )
    with store.read() as conn:
        as_of = conn.execute(
            text("SELECT as_of FROM import_batch WHERE id = :id"),
            {"id": result.batch_id},
        ).scalar_one()
    assert str(as_of).startswith("2025-06-30 15:00:12")


def test_other_entities_are_skipped_with_a_note(tmp_path):
    items = parse_json(
        tmp_path,
        {
            "BatchItemResponse": [
                {"QueryResponse": {"Estimate": [{"Id": "1"}, {"Id": "2"}]}, "bId": "e"},
                {"QueryResponse": {"Invoice": [invoice()]}, "bId": "i"},
            ]
        },
    )
    assert len(of(items, DocumentRecord)) == 1
    assert [n.message for n in of(items, Note)] == [
        "skipped 2 Estimate entities: billfold imports Customer, Invoice, CreditMemo, "
        "Payment, SalesReceipt and RefundReceipt"
    ]


def test_empty_query_response_is_claimed_and_says_so(tmp_path):
    data = b'{"QueryResponse":{},"time":"2025-06-30T10:00:00.000-07:00"}'
    assert QuickBooksApi.detect(head(data))
    items = parse_bytes(tmp_path, data)
    assert [i.message for i in of(items, Note)] == [
        "the response holds no QuickBooks entities"
    ]


def test_failed_batch_item_is_a_warning_and_the_rest_imports(tmp_path):
    fault = {
        "Error": [{"Message": "Throttle exceeded", "code": "3001"}],
        "type": "ServiceFault",
    }
    items = parse_json(
        tmp_path,
        {
            "BatchItemResponse": [
                {"Fault": fault, "bId": "payments"},
                {"QueryResponse": {"Invoice": [invoice()]}, "bId": "invoices"},
            ]
        },
    )
    assert len(of(items, DocumentRecord)) == 1
    [note] = of(items, Note)
    assert "Throttle exceeded - 3001" in note.message


def test_error_response_rejects_the_file(tmp_path):
    data = json.dumps(
        {
            "Fault": {
                "Error": [
                    {
                        "Message": "AuthenticationFailed",
                        "Detail": "Token expired",
                        "code": "3200",
                    }
                ],
                "type": "AUTHENTICATION",
            },
            "time": "2025-06-30T10:00:00.000-07:00",
        }
    ).encode()
    assert QuickBooksApi.detect(head(data))
    with pytest.raises(FileRejected, match="error response .*Token expired"):
        parse_bytes(tmp_path, data)


def test_truncated_download_rejects_the_whole_file(tmp_path):
    data = REFERENCE.read_bytes()
    with pytest.raises(FileRejected, match="cut-off download"):
        parse_bytes(tmp_path, data[: len(data) // 2])


# -- invoices and credit memos ---------------------------------------------------------


def test_total_comes_from_totalamt_and_subtotal_lines_are_kept_by_kind(tmp_path):
    inv = invoice(TotalAmt=999.99, Balance=999.99)
    [doc] = of(parse_json(tmp_path, query("Invoice", inv)), DocumentRecord)
    assert doc.total == Decimal("999.99")  # never the lines, subtotal or not
    assert [
        (line.position, line.kind, line.description, line.amount) for line in doc.lines
    ] == [
        (1, "item", "Boiler annual service", Decimal("189.0")),
        (2, "item", "Expansion tank", Decimal("142.0")),
        (3, "subtotal", "Subtotal", Decimal("331.0")),
    ]
    assert (doc.lines[1].item, doc.lines[1].quantity, doc.lines[1].unit_price) == (
        "Parts:Expansion Tank",
        1,
        142,
    )


def test_discount_and_description_only_lines_are_kept_as_information(tmp_path):
    lines = [
        invoice()["Line"][0],
        {"Amount": 18.9, "DetailType": "DiscountLineDetail",
         "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10}},
        {"Description": "Thank you!", "DetailType": "DescriptionOnly", "DescriptionLineDetail": {}},
        {"Amount": 170.1, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
    ]  # fmt: skip
    [doc] = of(
        parse_json(tmp_path, query("Invoice", invoice(Line=lines))), DocumentRecord
    )
    # A discount takes its amount off: it is kept negative, as the copy shows it.
    assert [(line.kind, line.description, line.amount) for line in doc.lines] == [
        ("item", "Boiler annual service", Decimal("189.0")),
        ("discount", "Discount 10%", Decimal("-18.9")),
        ("item", "Thank you!", None),
        ("subtotal", "Subtotal", Decimal("170.1")),
    ]


def test_voided_invoice_is_void_and_keeps_its_earlier_total(store, settings, tmp_path):
    before = invoice(
        Id="207", DocNumber="1007", SyncToken="0", TotalAmt=780.0, Balance=780.0
    )
    voided = invoice(
        Id="207",
        DocNumber="1007",
        SyncToken="1",
        TotalAmt=0,
        Balance=0,
        PrivateNote="Voided",
    )
    [doc] = of(parse_json(tmp_path, query("Invoice", voided)), DocumentRecord)
    assert doc.lifecycle == "void"

    run_import(store, settings, write(tmp_path, "a.json", query("Invoice", before)))
    assert (
        balances_by_account(store)["Thomas & Rita Okafor|USD"]["total_billed"]
        == "780.00"
    )
    run_import(store, settings, write(tmp_path, "b.json", query("Invoice", voided)))
    total, _, _, balance, status = invoice_rows(store)["1007"]
    assert (total, balance, status) == (78000, 0, "void")
    b = balances_by_account(store)["Thomas & Rita Okafor|USD"]
    assert (b["total_billed"], b["invoice_count"], b["void_invoice_count"]) == (
        "0.00",
        0,
        1,
    )


def test_voided_note_on_a_nonzero_invoice_is_not_a_void(tmp_path):
    [doc] = of(
        parse_json(
            tmp_path, query("Invoice", invoice(PrivateNote="Voided cheque replaced"))
        ),
        DocumentRecord,
    )
    assert doc.lifecycle == "issued"


def test_duplicate_in_one_file_keeps_the_higher_synctoken(store, settings, tmp_path):
    newer = invoice(SyncToken="3", Balance=0)
    older = invoice(SyncToken="2", Balance=338.81)
    path = write(tmp_path, "dup.json", query("Invoice", newer, older))
    result = run_import(store, settings, path)
    assert (result.created, result.rejected) == (1, [])
    assert invoice_rows(store)["1005"][3:] == (0, "paid")
    path = write(tmp_path, "dup2.json", query("Invoice", older, newer))
    run_import(store, settings, path, source="other")
    with store.read() as conn:
        status = conn.execute(
            text("SELECT status FROM invoice WHERE source = 'other'")
        ).scalar_one()
    assert status == "paid"


def test_duplicate_docnumbers_are_two_invoices(store, settings, tmp_path):
    run_import(
        store,
        settings,
        write(
            tmp_path,
            "d.json",
            query("Invoice", invoice(), invoice(Id="299", TotalAmt=10, Balance=10)),
        ),
    )
    with store.read() as conn:
        rows = conn.execute(
            text("SELECT external_id FROM invoice WHERE number = '1005'")
        ).all()
    assert sorted(r[0] for r in rows) == ["205", "299"]


def test_memo_pay_link_reference_and_currency(tmp_path):
    inv = invoice(
        InvoiceLink="https://connect.intuit.com/portal/app/CommerceNetwork/view/scs-v1-abc",
        CustomField=[
            {
                "DefinitionId": "1",
                "Name": "Crew",
                "Type": "StringType",
                "StringValue": "B",
            },
            {
                "DefinitionId": "2",
                "Name": "P.O. Number",
                "Type": "StringType",
                "StringValue": "PO-77",
            },
        ],
        CurrencyRef={"value": "cad", "name": "Canadian Dollar"},
    )
    [doc] = of(parse_json(tmp_path, query("Invoice", inv)), DocumentRecord)
    assert doc.pay_url.endswith("/scs-v1-abc")
    assert (doc.reference, doc.currency, doc.memo) == (
        "PO-77",
        "CAD",
        "Annual boiler service",
    )
    inv.pop("PrivateNote")
    [doc] = of(parse_json(tmp_path, query("Invoice", inv)), DocumentRecord)
    assert doc.memo == "Thank you for choosing Harbor Plumbing & Heating."


def test_credit_memo_remaining_credit_is_its_balance(tmp_path):
    cm = entities("CreditMemo")[2]
    cm["RemainingCredit"] = 25.0
    [doc] = of(parse_json(tmp_path, query("CreditMemo", cm)), DocumentRecord)
    assert (doc.kind, doc.number, doc.total, doc.balance, doc.due_date) == (
        "credit_note",
        "CM-103",
        Decimal("75.0"),
        Decimal("25.0"),
        None,
    )


# -- payments ------------------------------------------------------------------------


def test_credit_applied_across_several_invoices_goes_in_line_order(tmp_path):
    pay = payment(
        "450",
        [
            ("Invoice", "501", "400"),
            ("Invoice", "504", "150"),
            ("CreditMemo", "601", "100"),
        ],
    )
    items = parse_json(tmp_path, query("Payment", pay))
    [record] = of(items, PaymentRecord)
    assert [
        (a.kind, a.invoice_ref, a.credit_note_ref, a.amount) for a in record.allocations
    ] == [
        ("credit", "501", "601", Decimal("100.0")),
        ("cash", "501", None, Decimal("300.0")),
        ("cash", "504", None, Decimal("150.0")),
    ]
    [note] = of(items, Note)
    assert "applied the credit to the invoice lines in order" in note.message


def test_credit_larger_than_the_first_invoice_carries_to_the_next(tmp_path):
    pay = payment(
        "0",
        [("Invoice", "1", "30"), ("Invoice", "2", "30"), ("CreditMemo", "9", "60")],
    )
    [record] = of(parse_json(tmp_path, query("Payment", pay)), PaymentRecord)
    assert [(a.kind, a.invoice_ref, a.amount) for a in record.allocations] == [
        ("credit", "1", Decimal("30.0")),
        ("credit", "2", Decimal("30.0")),
    ]
    assert record.amount == 0


def test_unapplied_cash_is_kept(tmp_path):
    pay = payment("150", [("Invoice", "503", "120")], UnappliedAmt=30.0)
    [record] = of(parse_json(tmp_path, query("Payment", pay)), PaymentRecord)
    assert (record.amount, record.unapplied) == (Decimal("150.0"), Decimal("30.0"))
    assert [(a.kind, a.amount) for a in record.allocations] == [
        ("cash", Decimal("120.0"))
    ]


def test_lines_that_do_not_add_up_import_the_payment_without_allocations(tmp_path):
    pay = payment("500", [("Invoice", "1", "338.81")])
    items = parse_json(tmp_path, query("Payment", pay))
    [record] = of(items, PaymentRecord)
    assert (record.amount, record.allocations) == (Decimal("500.0"), [])
    [note] = of(items, Note)
    assert "do not match its amount 500.00" in note.message


@pytest.mark.parametrize(
    ("linked", "said"),
    [
        ([{"TxnId": "77", "TxnType": "JournalEntry"}], "links JournalEntry"),
        ([{"TxnId": "77"}], "links transaction 77 without a TxnType"),
        (
            [
                {"TxnId": "1", "TxnType": "Invoice"},
                {"TxnId": "2", "TxnType": "Invoice"},
            ],
            "links 2 transactions at once",
        ),
    ],
)
def test_a_line_billfold_cannot_place_leaves_the_payment_unallocated(
    tmp_path, linked, said
):
    pay = payment("100", [("Invoice", "1", "150"), ("Invoice", "2", "50")])
    pay["Line"][1]["LinkedTxn"] = linked
    items = parse_json(tmp_path, query("Payment", pay))
    [record] = of(items, PaymentRecord)
    assert (record.amount, record.allocations) == (Decimal("100.0"), [])
    assert said in of(items, Note)[0].message


def test_voided_payment_settles_nothing(tmp_path):
    pay = payment(
        "0",
        [("Invoice", "1", "50"), ("CreditMemo", "9", "50")],
        PrivateNote="Voided",
        PaymentRefNum="8830",
    )
    [record] = of(parse_json(tmp_path, query("Payment", pay)), PaymentRecord)
    assert (record.lifecycle, record.amount, record.reference) == ("void", 0, "8830")
    assert record.allocations == []


# -- what is refused -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "column", "value", "expected"),
    [
        ({"TotalAmt": "1,204.00"}, "TotalAmt", "1,204.00", "an amount such as 338.81"),
        ({"TotalAmt": True}, "TotalAmt", "true", "an amount such as 338.81"),
        ({"TotalAmt": 12.345678901}, "TotalAmt", "12.345678901", "at most 6 decimal places"),
        ({"TotalAmt": -5}, "TotalAmt", "-5", "a TotalAmt of zero or more"),
        ({"TotalAmt": None}, "TotalAmt", "", "a TotalAmt"),
        ({"Balance": 400}, "Balance", "400", "a Balance between 0 and the TotalAmt"),
        ({"TxnDate": "04/08/2025"}, "TxnDate", "04/08/2025", "a date written 2025-03-31"),
        ({"TxnDate": "2025-02-30"}, "TxnDate", "2025-02-30", "a real calendar date"),
        ({"SyncToken": "v2"}, "SyncToken", "v2", "a SyncToken"),
        ({"CustomerRef": {"name": "Okafor"}}, "CustomerRef.value", '{"name": "Okafor"}', "CustomerRef"),
        ({"CustomerRef": "62"}, "CustomerRef", "62", "an object with value"),
        ({"MetaData": {"LastUpdatedTime": "yesterday"}}, "MetaData.LastUpdatedTime", "yesterday", "a timestamp"),
        ({"Line": [{"Amount": "lots", "DetailType": "SalesItemLineDetail"}]}, "Line[0].Amount", "lots", "an amount"),
        ({"Line": {"Amount": 1}}, "Line", '{"Amount": 1}', "a list"),
    ],
)  # fmt: skip
def test_a_bad_field_rejects_its_record_and_the_rest_imports(
    tmp_path, changes, column, value, expected
):
    bad = invoice(**changes)
    good = invoice(Id="299", DocNumber="1099")
    items = parse_json(tmp_path, query("Invoice", bad, good))
    [rejection] = of(items, Rejection)
    assert (rejection.record, rejection.column, rejection.value) == (
        "invoice 1005",
        column,
        value,
    )
    assert expected in rejection.reason
    assert "the 1st Invoice in the file, Id 205" in rejection.reason
    assert [d.number for d in of(items, DocumentRecord)] == ["1099"]


def test_bad_payment_line_rejects_the_payment(tmp_path):
    pay = payment("10", [("Invoice", "1", "10")])
    pay["Line"][0]["LinkedTxn"][0].pop("TxnId")
    [rejection] = of(parse_json(tmp_path, query("Payment", pay)), Rejection)
    assert (rejection.record, rejection.column) == (
        "payment 777",
        "Line[0].LinkedTxn[0].TxnId",
    )


def test_a_non_object_entity_is_rejected(tmp_path):
    items = parse_json(tmp_path, {"QueryResponse": {"Invoice": [42, invoice()]}})
    [rejection] = of(items, Rejection)
    assert (rejection.value, len(of(items, DocumentRecord))) == ("42", 1)


def test_undecidable_encoding_rejects_the_file(tmp_path):
    with pytest.raises(FileRejected, match="neither UTF-8 nor Windows-1252"):
        parse_bytes(tmp_path, b'{"QueryResponse": {"Invoice": [{"x": "\x81\xff"}]}}')


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_saved_copies_in_other_encodings_read_the_same(tmp_path, encoding):
    text_ = json.dumps(
        query("Invoice", invoice(PrivateNote="Café – boiler")), ensure_ascii=False
    )
    data = text_.encode(encoding)
    assert QuickBooksApi.detect(head(data))
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert (doc.memo, doc.total) == ("Café – boiler", Decimal("338.81"))


# -- detection -------------------------------------------------------------------------


def test_detects_its_samples_and_no_other_format():
    ours = [
        p
        for p in [*SAMPLE_DIR.glob("*.json"), *SAMPLES.glob("real_world/qbo_*.json")]
        if not p.name.endswith(".expected.json")
    ]
    assert len(ours) == 8
    for path in ours:
        assert QuickBooksApi.detect(head(path.read_bytes())), path.name
    # Every other bundled export (and every golden file), plus the shared reference
    # samples of the other formats where this checkout has them.
    others = [
        p
        for p in SAMPLES.rglob("*")
        if p.is_file() and p not in ours and p.suffix != ".md"
    ]
    others += [p for p in FORMAT_SAMPLES.glob("*") if p.name != "qbo_api_invoices.json"]
    assert any(p.suffix == ".csv" for p in others)
    for path in others:
        assert not QuickBooksApi.detect(head(path.read_bytes())), path.name


def test_generic_csv_does_not_claim_quickbooks_json():
    for path in SAMPLE_DIR.glob("*.json"):
        assert not GenericCsv.detect(head(path.read_bytes())), path.name


@pytest.mark.parametrize(
    "data",
    [
        b'{"Invoices": [{"InvoiceID": "x", "Total": 5}]}',  # Xero
        b'{"Invoice": {"InvoiceID": "x"}}',  # no SyncToken: not QuickBooks
        b'[{"id": 1, "total": 5}]',
        b'{"Fault": "oops"}',
        b"number,customer,date,total\n1,A,2025-01-01,5\n",
        b"",
    ],
)
def test_refuses_json_that_is_not_a_quickbooks_response(data):
    assert not QuickBooksApi.detect(head(data))


# -- whole-file properties -------------------------------------------------------------


def test_reimporting_the_same_records_changes_nothing(store, settings, tmp_path):
    run_import(store, settings, REFERENCE)
    reformatted = write(tmp_path, "again.json", reference())  # same records, new bytes
    result = run_import(store, settings, reformatted)
    assert (result.status, result.created, result.updated, result.unchanged) == (
        "applied",
        0,
        0,
        26,
    )


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def _records(items: list) -> list:
    return [
        i
        for i in items
        if isinstance(i, AccountRecord | DocumentRecord | PaymentRecord)
    ]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_key_order_does_not_change_the_records(tmp_path, seed):
    original = _records(parse_bytes(tmp_path, REFERENCE.read_bytes()))
    loaded = json.loads(REFERENCE.read_text(), parse_float=Decimal)
    data = _dumps_exact(_shuffled(loaded, random.Random(seed)))
    assert _records(parse_bytes(tmp_path, data.encode())) == original


def _dumps_exact(value: Any) -> str:
    """Write JSON with every Decimal in its own digits (json would go through float)."""
    numbers: list[str] = []

    def mark(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        if isinstance(v, Decimal):
            numbers.append(str(v))
            return f"@@{len(numbers) - 1}@@"
        return v

    out = json.dumps(mark(value))
    for i, number in enumerate(numbers):
        out = out.replace(f'"@@{i}@@"', number)
    return out


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(["Id", "TotalAmt", "Balance", "Line", "LinkedTxn", "TxnType", "TxnId",
                         "Amount", "CustomerRef", "value", "name", "SyncToken", "TxnDate",
                         "DetailType", "MetaData", "RemainingCredit", "UnappliedAmt"]),
        children,
        max_size=5,
    ),
    max_leaves=20,
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["Customer", "Invoice", "CreditMemo", "Payment"]),
    changes=st.dictionaries(
        st.sampled_from(["Id", "TotalAmt", "Balance", "Line", "CustomerRef", "SyncToken",
                         "TxnDate", "DueDate", "MetaData", "RemainingCredit", "UnappliedAmt",
                         "CustomField", "PrivateNote", "ParentRef", "DisplayName"]),
        _json_values,
        max_size=4,
    ),
)  # fmt: skip
def test_arbitrary_field_values_raise_only_adapter_errors(tmp_path, kind, changes):
    entity = entities(kind)[0]
    entity.update(changes)
    try:
        items = parse_json(tmp_path, query(kind, entity))
    except AdapterError:
        return
    assert len([i for i in items if not isinstance(i, Note)]) == 1
    for item in items:
        assert isinstance(
            item, AccountRecord | DocumentRecord | PaymentRecord | Rejection | Note
        )


def test_copy_details_tax_mode_exchange_rate_and_skipped_attachables(tmp_path):
    inv = invoice(GlobalTaxCalculation="TaxInclusive", ExchangeRate=1)
    [doc] = of(parse_json(tmp_path, query("Invoice", inv)), DocumentRecord)
    assert (doc.tax_mode, doc.exchange_rate) == ("inclusive", None)
    inv = invoice(GlobalTaxCalculation="Sideways", ExchangeRate="1.3412")
    [doc] = of(parse_json(tmp_path, query("Invoice", inv)), DocumentRecord)
    assert (doc.tax_mode, doc.exchange_rate) == (None, Decimal("1.3412"))
    attachables = [
        {"Id": "1", "SyncToken": "0", "Note": "called them"},
        {"Id": "2", "SyncToken": "0", "FileName": "po.pdf",
         "AttachableRef": [{"EntityRef": {"type": "Bill", "value": "9"}}]},
        {"Id": "3", "SyncToken": "0", "FileName": "x.pdf", "Size": "many"},
    ]  # fmt: skip
    items = parse_json(tmp_path, query("Attachable", *attachables))
    notes = [n.message for n in of(items, Note)]
    assert any("1 Attachable entity (a note without a file)" in n for n in notes)
    assert any("1 Attachable entity (linked to no invoice" in n for n in notes)
    [refused] = of(items, Rejection)
    assert (refused.column, refused.value) == ("Size", "many")


def test_records_held_for_a_later_term_are_bounded(tmp_path, monkeypatch):
    import adapters.quickbooks_api as qbo

    monkeypatch.setattr(qbo, "DEFERRED_MAX", 1)
    invoices = [
        invoice(Id=str(i), DocNumber=f"T-{i}", SalesTermRef={"value": "3"})
        for i in (1, 2)
    ]
    terms = [{"Id": "3", "Name": "Net 30", "SyncToken": "0", "DueDays": 30}]
    batch = {
        "BatchItemResponse": [
            {"QueryResponse": {"Invoice": invoices}, "bId": "i"},
            {"QueryResponse": {"Term": terms}, "bId": "t"},
        ]
    }
    items = parse_json(tmp_path, batch)
    docs = {d.number: d.terms for d in of(items, DocumentRecord)}
    assert docs == {"T-1": "Net 30", "T-2": None}  # held back, then named; not held
    assert any(
        "terms named only by QuickBooks Id (3)" in n.message for n in of(items, Note)
    )


def test_a_hostile_nest_inside_an_invoice_is_refused_with_a_reason(tmp_path):
    """``[[[[…`` thousands deep inside a record once cost the parser time growing with the
    square of the depth (minutes for a megabyte); now the file is refused at once."""
    nest = "[" * 20_000 + "]" * 20_000
    data = (
        '{"QueryResponse": {"Invoice": [{"Id": "1", "SyncToken": "0", "X": '
        + nest
        + "}]}}"
    ).encode()
    with pytest.raises(FileRejected, match="nests deeper than any API export"):
        parse_bytes(tmp_path, data)


def test_a_nul_character_in_a_json_text_rejects_that_record_by_name(tmp_path):
    """``"\\u0000"`` is valid JSON, but PostgreSQL keeps no NUL in text: the record is
    refused naming the field (the import once failed whole with a DataError)."""
    items = parse_json(
        tmp_path, query("Invoice", invoice(PrivateNote="Call\x00 first"))
    )
    assert of(items, DocumentRecord) == []
    [rejection] = of(items, Rejection)
    assert "PrivateNote" in str(rejection.column or rejection.reason)
    assert "NUL" in rejection.reason
