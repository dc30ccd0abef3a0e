"""QuickBooks Online sales receipts, refund receipts and unapplied payments (issue 13)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from adapters.base import ExportFile, ParseOptions
from adapters.errors import AdapterError
from adapters.quickbooks_api import QuickBooksApi
from adapters.toolkit.text import sniff_bytes
from schemas.records import DocumentRecord, Note, PaymentRecord, Rejection
from sync.ledger.statement import build_statement
from tests.helpers import balances_by_account, run_import, statement_disagreements


def sales_receipt(**changes: Any) -> dict:
    receipt = {
        "Id": "11", "SyncToken": "0", "DocNumber": "1003", "TxnDate": "2025-03-14",
        "CustomerRef": {"value": "6", "name": "Dylan Sollfrank"}, "TotalAmt": 337.5,
        "Balance": 0, "PaymentMethodRef": {"value": "2", "name": "Check"},
        "PaymentRefNum": "10264", "DepositToAccountRef": {"value": "35"},
        "Line": [
            {"Id": "1", "Amount": 337.5, "Description": "Custom Design",
             "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"name": "Design"}, "Qty": 4.5,
                                     "UnitPrice": 75}},
            {"Amount": 337.5, "DetailType": "SubTotalLineDetail"},
        ],
        "MetaData": {"LastUpdatedTime": "2025-03-14T14:59:48-07:00"},
    }  # fmt: skip
    return {**receipt, **changes}


def refund_receipt(**changes: Any) -> dict:
    refund = {
        "Id": "66", "SyncToken": "0", "DocNumber": "1020", "TxnDate": "2025-04-02",
        "CustomerRef": {"value": "6", "name": "Dylan Sollfrank"}, "TotalAmt": 87.5,
        "Balance": 0, "PrivateNote": "Design hours not used",
        "DepositToAccountRef": {"value": "35"},
        "Line": [{"Amount": 87.5, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"name": "Design"}}}],
    }  # fmt: skip
    return {**refund, **changes}


def query(**entities: list) -> dict:
    return {"QueryResponse": entities, "time": "2025-05-01T10:00:00-07:00"}


def write(tmp_path: Path, data: dict, name: str = "qbo.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def parse(tmp_path: Path, data: dict) -> list:
    path = write(tmp_path, data)
    raw = path.read_bytes()
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(raw), size=len(raw)
    )
    return list(QuickBooksApi().parse(export, ParseOptions()))


def of(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def test_a_sales_receipt_is_a_paid_invoice_and_the_cash_that_paid_it(tmp_path):
    items = parse(tmp_path, query(SalesReceipt=[sales_receipt()]))
    [sale] = of(items, DocumentRecord)
    [cash] = of(items, PaymentRecord)
    assert (sale.kind, sale.number, sale.total, sale.balance, sale.paid_flag) == (
        "invoice", "1003", Decimal("337.5"), 0, True
    )  # fmt: skip
    assert sale.external_id == "SalesReceipt 11"  # never an Invoice's Id 11
    assert [(line.kind, line.description) for line in sale.lines] == [
        ("item", "Custom Design"),
        ("subtotal", "Subtotal"),
    ]
    assert (cash.amount, cash.method, cash.reference, cash.unapplied) == (
        Decimal("337.5"), "Check", "1003", 0
    )  # fmt: skip
    assert [(a.kind, a.invoice_ref, a.amount) for a in cash.allocations] == [
        ("cash", "SalesReceipt 11", Decimal("337.5"))
    ]


def test_a_sales_receipt_nets_to_zero_in_balances_and_on_the_statement(
    store, settings, tmp_path
):
    run_import(store, settings, write(tmp_path, query(SalesReceipt=[sales_receipt()])))
    b = balances_by_account(store)["Dylan Sollfrank|USD"]
    assert (b["total_billed"], b["total_paid"], b["balance_due"], b["net_balance"]) == (
        "337.50", "337.50", "0.00", "0.00"
    )  # fmt: skip
    with store.read() as conn:
        account_id = conn.execute(text("SELECT id FROM account")).scalar_one()
        statement = build_statement(
            conn, account_id, date(2025, 1, 1), date(2025, 12, 31)
        )
    [ledger] = statement.sections[0].ledgers
    assert [(line.kind, line.amount) for line, _ in ledger.lines] == [
        ("invoice", 33750), ("payment", -33750)
    ]  # fmt: skip
    assert ledger.closing == 0 and ledger.open_items == []


def test_a_voided_sales_receipt_is_void_and_takes_no_cash(store, settings, tmp_path):
    void = sales_receipt(TotalAmt=0, PrivateNote="Voided", SyncToken="1")
    items = parse(tmp_path, query(SalesReceipt=[void]))
    [sale] = of(items, DocumentRecord)
    [cash] = of(items, PaymentRecord)
    assert (sale.lifecycle, cash.lifecycle, cash.allocations) == ("void", "void", [])
    run_import(store, settings, write(tmp_path, query(SalesReceipt=[void])))
    b = balances_by_account(store)["Dylan Sollfrank|USD"]
    assert (b["void_invoice_count"], b["total_paid"], b["net_balance"]) == (
        1, "0.00", "0.00"
    )  # fmt: skip


def test_a_refund_receipt_is_a_credit_paid_back_at_once(store, settings, tmp_path):
    items = parse(tmp_path, query(RefundReceipt=[refund_receipt()]))
    [refund] = of(items, DocumentRecord)
    assert (refund.kind, refund.external_id, refund.balance) == (
        "credit_note", "RefundReceipt 66", 0
    )  # fmt: skip
    assert (refund.refunded, refund.refunded_on) == (Decimal("87.5"), date(2025, 4, 2))
    assert refund.document_type == "refund_receipt"
    data = query(SalesReceipt=[sales_receipt()], RefundReceipt=[refund_receipt()])
    run_import(store, settings, write(tmp_path, data))
    b = balances_by_account(store)["Dylan Sollfrank|USD"]
    assert (b["credit_note_total"], b["remaining_credit"], b["net_balance"]) == (
        "87.50", "0.00", "0.00"
    )  # fmt: skip
    with store.read() as conn:
        account_id = conn.execute(text("SELECT id FROM account")).scalar_one()
        statement = build_statement(
            conn, account_id, date(2025, 1, 1), date(2025, 12, 31)
        )
    lines = [
        (ln.on, ln.kind, ln.description, ln.amount)
        for ln, _ in statement.sections[0].ledgers[0].lines
    ]
    assert (
        date(2025, 4, 2),
        "credit_note",
        "Refund receipt 1020: Design hours not used",
        -8750,
    ) in lines
    assert (
        date(2025, 4, 2),
        "refund",
        "Refund receipt 1020: refunded to the customer",
        8750,
    ) in lines
    assert statement_disagreements(store) == []


def test_an_unapplied_payment_is_credit_that_reduces_the_net(store, settings, tmp_path):
    invoice = {
        "Id": "130", "SyncToken": "0", "DocNumber": "1037", "TxnDate": "2025-03-06",
        "DueDate": "2025-04-05", "CustomerRef": {"value": "3", "name": "Cool Cars"},
        "TotalAmt": 1000, "Balance": 400,
    }  # fmt: skip
    partly = {
        "Id": "171", "SyncToken": "0", "TxnDate": "2025-03-20", "TotalAmt": 1000,
        "UnappliedAmt": 400, "CustomerRef": {"value": "3", "name": "Cool Cars"},
        "Line": [{"Amount": 600, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}],
    }  # fmt: skip
    deposit = {
        "Id": "172", "SyncToken": "0", "TxnDate": "2025-03-22", "TotalAmt": 75,
        "UnappliedAmt": 75, "CustomerRef": {"value": "7", "name": "Kookies by Kathy"},
        "Line": [],
    }  # fmt: skip
    data = query(Invoice=[invoice], Payment=[partly, deposit])
    run_import(store, settings, write(tmp_path, data))
    found = balances_by_account(store)
    cars, kathy = found["Cool Cars|USD"], found["Kookies by Kathy|USD"]
    assert (cars["balance_due"], cars["unapplied_payments"], cars["net_balance"]) == (
        "400.00", "400.00", "0.00"
    )  # fmt: skip
    assert (kathy["unapplied_payments"], kathy["net_balance"]) == ("75.00", "-75.00")
    assert statement_disagreements(store) == []


def test_deposits_are_counted_and_left_out_with_the_reason(tmp_path):
    deposit = {"Id": "180", "SyncToken": "0", "TotalAmt": 1075, "Line": []}
    items = parse(tmp_path, query(SalesReceipt=[sales_receipt()], Deposit=[deposit]))
    assert [n.message for n in of(items, Note)] == [
        "skipped 1 Deposit entity: billfold imports Customer, Invoice, CreditMemo, "
        "Payment, SalesReceipt and RefundReceipt"
    ]


def test_a_bad_receipt_is_rejected_by_name_and_the_rest_imports(tmp_path):
    bad = sales_receipt(Id="12", DocNumber="1004", TotalAmt=-5)
    items = parse(
        tmp_path,
        query(
            SalesReceipt=[bad, sales_receipt()],
            RefundReceipt=[refund_receipt(TotalAmt="x")],
        ),
    )
    assert [(r.record, r.column) for r in of(items, Rejection)] == [
        ("sales receipt 1004", "TotalAmt"),
        ("refund receipt 1020", "TotalAmt"),
    ]
    assert [d.number for d in of(items, DocumentRecord)] == ["1003"]


def test_reimporting_receipts_changes_nothing(store, settings, tmp_path):
    data = query(SalesReceipt=[sales_receipt()], RefundReceipt=[refund_receipt()])
    first = run_import(store, settings, write(tmp_path, data, "a.json"))
    data["time"] = "2025-05-02T10:00:00-07:00"  # other bytes, the same records
    again = run_import(store, settings, write(tmp_path, data, "b.json"))
    assert (first.created, again.created, again.updated, again.unchanged) == (
        3,
        0,
        0,
        3,
    )


def test_a_receipt_in_a_plain_list_is_rejected_by_its_place(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([sales_receipt()]))
    raw = path.read_bytes()
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(raw), size=len(raw)
    )
    items = list(QuickBooksApi().parse(export, ParseOptions()))
    [rejected] = of(items, Rejection)
    assert rejected.record == "the 1st element in the file"
    assert of(items, DocumentRecord) == []


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10**6, 10**6)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
    | st.text(max_size=8)
    | st.sampled_from(["Voided", "2025-13-01", "SubTotalLineDetail"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["value", "name", "Amount", "DetailType",
                                       "LastUpdatedTime"]), children, max_size=3),
    max_leaves=12,
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["SalesReceipt", "RefundReceipt"]),
    changes=st.dictionaries(
        st.sampled_from(["Id", "SyncToken", "DocNumber", "TxnDate", "CustomerRef",
                         "TotalAmt", "Balance", "PaymentMethodRef", "PrivateNote",
                         "Line", "MetaData", "CurrencyRef"]),
        _values,
        max_size=4,
    ),
)  # fmt: skip
def test_arbitrary_values_give_a_consistent_receipt_or_a_named_rejection(
    tmp_path, kind, changes
):
    base = sales_receipt() if kind == "SalesReceipt" else refund_receipt()
    try:
        items = parse(tmp_path, query(**{kind: [{**base, **changes}]}))
    except AdapterError:
        return
    documents, payments = of(items, DocumentRecord), of(items, PaymentRecord)
    if of(items, Rejection):
        assert documents == payments == [] and len(of(items, Rejection)) == 1
        return
    [document] = documents
    assert document.external_id.startswith(f"{kind} ")
    if kind == "RefundReceipt":
        assert payments == [] and document.kind == "credit_note"
        assert document.lifecycle == "void" or document.refunded == document.total
        return
    [cash] = payments
    assert (document.kind, cash.amount, cash.date) == (
        "invoice", document.total, document.issue_date
    )  # fmt: skip
    assert cash.lifecycle == ("void" if document.lifecycle == "void" else "active")
    assert sum((a.amount for a in cash.allocations), Decimal(0)) in (0, cash.amount)
