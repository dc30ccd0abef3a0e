"""Xero Overpayments, Prepayments and refunds (issue 13, items 2 and 3)."""

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
from adapters.toolkit.text import sniff_bytes
from adapters.xero_api import XeroApi
from schemas.records import AccountRecord, Note, PaymentRecord, Rejection
from sync.ledger.statement import build_statement
from tests.helpers import balances_by_account, run_import, statement_disagreements

RIDGE = {"ContactID": "c-ridge", "Name": "Ridgeway Veterinary Clinic"}
OTHER = {"ContactID": "c-other", "Name": "Unrelated Customer"}


def invoice(number: str = "INV-0101", **changes: Any) -> dict:
    record = {
        "Type": "ACCREC", "InvoiceID": f"id-{number}", "InvoiceNumber": number,
        "Contact": RIDGE, "Date": "2025-03-31", "DueDate": "2025-04-30",
        "Status": "PAID", "Total": 500, "AmountDue": 0, "AmountPaid": 0,
        "AmountCredited": 500, "CurrencyCode": "USD",
    }  # fmt: skip
    return {**record, **changes}


def prepayment(**changes: Any) -> dict:
    record = {
        "PrepaymentID": "p-1", "Type": "RECEIVE-PREPAYMENT", "Contact": RIDGE,
        "Date": "/Date(1740960000000+0000)/", "Status": "AUTHORISED", "Total": 3950,
        "RemainingCredit": 3450, "CurrencyCode": "USD",
        "Allocations": [{"Amount": 500, "Date": "2025-04-02",
                         "Invoice": {"InvoiceID": "id-INV-0101"}}],
        "Payments": [],
    }  # fmt: skip
    return {**record, **changes}


def overpayment(**changes: Any) -> dict:
    record = {
        "OverpaymentID": "o-1", "Type": "RECEIVE-OVERPAYMENT", "Contact": RIDGE,
        "Date": "2025-03-03", "Status": "AUTHORISED", "Total": 60,
        "RemainingCredit": 60, "CurrencyCode": "USD", "Allocations": [],
    }  # fmt: skip
    return {**record, **changes}


def envelope(**collections: list) -> dict:
    return {"Id": "x", "Status": "OK", "ProviderName": "test", **collections}


def write(tmp_path: Path, data: dict, name: str = "xero.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def parse(tmp_path: Path, data: dict) -> list:
    path = write(tmp_path, data)
    raw = path.read_bytes()
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(raw), size=len(raw)
    )
    return list(XeroApi().parse(export, ParseOptions()))


def of(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def lines_of(store, name: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        account_id = conn.execute(
            text("SELECT id FROM account WHERE name = :n"), {"n": name}
        ).scalar_one()
        statement = build_statement(
            conn, account_id, date(2000, 1, 1), date(2099, 1, 1)
        )
    return [
        (line.on, line.kind, line.description, line.amount)
        for ledger in statement.sections[0].ledgers
        for line, _ in ledger.lines
    ]


def test_a_prepayment_is_cash_received_applied_and_on_account(tmp_path):
    items = parse(tmp_path, envelope(Prepayments=[prepayment()]))
    [cash] = of(items, PaymentRecord)
    assert (cash.external_id, cash.amount, cash.unapplied, cash.method) == (
        "p-1", Decimal(3950), Decimal(3450), "Prepayment"
    )  # fmt: skip
    assert cash.date == date(2025, 3, 3)
    assert [(a.kind, a.invoice_ref, a.amount, a.date) for a in cash.allocations] == [
        ("cash", "id-INV-0101", Decimal(500), date(2025, 4, 2))
    ]


def test_a_prepayment_settles_its_invoice_and_the_rest_is_credit(
    store, settings, tmp_path
):
    data = envelope(Invoices=[invoice()], Prepayments=[prepayment()])
    result = run_import(store, settings, write(tmp_path, data))
    assert result.rejected == [] and result.warnings == []
    b = balances_by_account(store)["Ridgeway Veterinary Clinic|USD"]
    assert (b["balance_due"], b["unapplied_payments"], b["net_balance"]) == (
        "0.00", "3450.00", "-3450.00"
    )  # fmt: skip
    with store.read() as conn:
        status = conn.execute(text("SELECT status FROM invoice")).scalar_one()
    assert status == "paid"
    assert statement_disagreements(store) == []


def test_an_overpayment_alone_makes_the_account_and_its_credit(
    store, settings, tmp_path
):
    run_import(store, settings, write(tmp_path, envelope(Overpayments=[overpayment()])))
    b = balances_by_account(store)["Ridgeway Veterinary Clinic|USD"]
    assert (b["invoice_count"], b["unapplied_payments"], b["net_balance"]) == (
        0, "60.00", "-60.00"
    )  # fmt: skip


def test_a_refunded_overpayment_shows_the_refund_on_its_day(store, settings, tmp_path):
    refunded = overpayment(
        Total=25,
        RemainingCredit=20,
        Payments=[{"PaymentID": "r-1", "Date": "2025-03-10", "Amount": 5}],
    )
    run_import(store, settings, write(tmp_path, envelope(Overpayments=[refunded])))
    b = balances_by_account(store)["Ridgeway Veterinary Clinic|USD"]
    assert (b["total_paid"], b["unapplied_payments"], b["net_balance"]) == (
        "20.00", "20.00", "-20.00"
    )  # fmt: skip
    assert lines_of(store, "Ridgeway Veterinary Clinic") == [
        (date(2025, 3, 3), "payment", "Payment received (Overpayment)", -2500),
        (date(2025, 3, 10), "refund", "Payment o-1: refunded to the customer", 500),
    ]


def test_a_credit_note_with_2_refunded_shows_2_less_credit(store, settings, tmp_path):
    note = {
        "Type": "ACCRECCREDIT", "CreditNoteID": "cn-7", "CreditNoteNumber": "CN-0007",
        "Contact": RIDGE, "Date": "2025-03-09", "Status": "AUTHORISED", "Total": 12,
        "RemainingCredit": 12, "CurrencyCode": "USD",
        "UpdatedDateUTC": "2025-03-09T10:00:00",
    }  # fmt: skip
    run_import(store, settings, write(tmp_path, envelope(CreditNotes=[note]), "a.json"))
    before = balances_by_account(store)["Ridgeway Veterinary Clinic|USD"]
    assert (before["remaining_credit"], before["net_balance"]) == ("12.00", "-12.00")
    # Xero later lists the refund in the credit note's Payments, credit reduced.
    refunded = {
        **note,
        "RemainingCredit": 10,
        "UpdatedDateUTC": "2025-03-21T00:00:00",
        "Payments": [{"PaymentID": "r-2", "Date": "2025-03-20", "Amount": 2}],
    }
    r2 = run_import(
        store, settings, write(tmp_path, envelope(CreditNotes=[refunded]), "b.json")
    )
    assert r2.updated == 1
    after = balances_by_account(store)["Ridgeway Veterinary Clinic|USD"]
    assert (after["remaining_credit"], after["net_balance"]) == ("10.00", "-10.00")
    assert (
        date(2025, 3, 20),
        "refund",
        "Credit note CN-0007: refunded to the customer",
        200,
    ) in lines_of(store, "Ridgeway Veterinary Clinic")
    assert statement_disagreements(store) == []


def test_the_refund_payment_itself_is_not_cash_received(tmp_path):
    refund = {
        "PaymentID": "r-1", "Date": "2025-03-10", "Amount": 5, "Reference": "Refund",
        "PaymentType": "AROVERPAYMENTPAYMENT", "Status": "AUTHORISED",
        "Overpayment": {"OverpaymentID": "o-1"},
    }  # fmt: skip
    items = parse(tmp_path, envelope(Payments=[refund]))
    assert of(items, PaymentRecord) == []
    assert any("skipped 1 refund to a customer" in n.message for n in of(items, Note))


def test_supplier_and_deleted_parts_are_left_out_with_notes(tmp_path):
    spend = overpayment(OverpaymentID="o-2", Type="SPEND-OVERPAYMENT")
    deleted = prepayment(
        Allocations=[
            *prepayment()["Allocations"],
            {"Amount": 100, "Date": "2025-04-03", "IsDeleted": True,
             "Invoice": {"InvoiceID": "id-INV-0102"}},
        ]
    )  # fmt: skip
    items = parse(tmp_path, envelope(Overpayments=[spend], Prepayments=[deleted]))
    [cash] = of(items, PaymentRecord)
    assert [a.invoice_ref for a in cash.allocations] == ["id-INV-0101"]
    notes = " | ".join(n.message for n in of(items, Note))
    assert "skipped 1 supplier overpayment or prepayment" in notes
    assert "skipped 1 deleted credit allocation" in notes


def test_a_voided_overpayment_counts_for_nothing(store, settings, tmp_path):
    void = overpayment(Status="VOIDED")
    run_import(store, settings, write(tmp_path, envelope(Overpayments=[void])))
    b = balances_by_account(store)["Ridgeway Veterinary Clinic|USD"]
    assert (b["total_paid"], b["unapplied_payments"], b["net_balance"]) == (
        "0.00", "0.00", "0.00"
    )  # fmt: skip


def test_figures_that_cannot_add_up_reject_the_record(tmp_path):
    too_much = prepayment(PrepaymentID="p-2", RemainingCredit=3500)  # 500 + 3500 > 3950
    above = overpayment(OverpaymentID="o-3", RemainingCredit=61)
    refunds = overpayment(
        OverpaymentID="o-4",
        Payments=[{"PaymentID": "r", "Date": "2025-03-10", "Amount": 1}],
    )  # 60 remaining + 1 refunded > 60
    no_date = overpayment(OverpaymentID="o-5", Date=None)
    items = parse(
        tmp_path,
        envelope(Overpayments=[above, refunds, no_date], Prepayments=[too_much]),
    )
    assert [(r.record, r.column) for r in of(items, Rejection)] == [
        ("overpayment (Overpayments[0])", "RemainingCredit"),
        ("overpayment (Overpayments[1])", "Payments"),
        ("overpayment (Overpayments[2])", "Date"),
        ("prepayment (Prepayments[0])", "Total"),
    ]
    assert of(items, PaymentRecord) == []


def test_a_prepayment_applied_to_another_customers_invoice_is_refused(
    store, settings, tmp_path
):
    theirs = invoice(
        "INV-0900", Contact=OTHER, AmountCredited=0, AmountDue=500, Status="AUTHORISED"
    )
    crossing = prepayment(
        Total=500,
        RemainingCredit=0,
        Allocations=[{"Amount": 500, "Date": "2025-04-02",
                      "Invoice": {"InvoiceID": "id-INV-0900"}}],
    )  # fmt: skip
    result = run_import(
        store,
        settings,
        write(tmp_path, envelope(Invoices=[theirs], Prepayments=[crossing])),
    )
    [rejected] = result.rejected
    assert rejected["record"] == "payment p-1"
    assert "not the same customer or one of its sites" in rejected["reason"]
    other = balances_by_account(store)["Unrelated Customer|USD"]
    assert (other["balance_due"], other["net_balance"]) == ("500.00", "500.00")
    assert statement_disagreements(store) == []


def test_reimporting_changes_nothing(store, settings, tmp_path):
    data = envelope(
        Invoices=[invoice()], Prepayments=[prepayment()], Overpayments=[overpayment()]
    )
    first = run_import(store, settings, write(tmp_path, data, "a.json"))
    data["Id"] = "y"  # other bytes, the same records
    again = run_import(store, settings, write(tmp_path, data, "b.json"))
    assert (first.created, again.created, again.updated) == (3, 0, 0)


def test_a_refund_counts_where_the_net_is_not_made_of_balances(
    store, settings, tmp_path
):
    """Without RemainingCredit the net is billed less payments less credit notes: the
    2.00 refunded is not credit any more (it was 2.00 too much before)."""
    note = {
        "Type": "ACCRECCREDIT", "CreditNoteID": "cn-8", "CreditNoteNumber": "CN-0008",
        "Contact": RIDGE, "Date": "2025-03-09", "Status": "PAID", "Total": 12,
        "CurrencyCode": "USD",
        "Payments": [{"PaymentID": "r-3", "Date": "2025-03-20", "Amount": 2}],
    }  # fmt: skip
    refunded = overpayment(
        RemainingCredit=None,
        Payments=[{"PaymentID": "r-4", "Date": "2025-03-12", "Amount": 15}],
    )
    data = envelope(CreditNotes=[note], Overpayments=[refunded])
    run_import(store, settings, write(tmp_path, data))
    b = balances_by_account(store)["Ridgeway Veterinary Clinic|USD"]
    assert (b["remaining_credit"], b["total_paid"], b["net_balance"]) == (
        None, "45.00", "-55.00"
    )  # fmt: skip
    lines = lines_of(store, "Ridgeway Veterinary Clinic")
    assert (
        date(2025, 3, 20), "refund", "Credit note CN-0008: refunded to the customer", 200
    ) in lines  # fmt: skip
    assert (
        date(2025, 3, 12),
        "refund",
        "Payment o-1: refunded to the customer",
        1500,
    ) in lines
    assert statement_disagreements(store) == []


def test_a_deleted_prepayment_counts_for_nothing(store, settings, tmp_path):
    [cash] = of(
        parse(tmp_path, envelope(Prepayments=[prepayment(Status="DELETED")])),
        PaymentRecord,
    )
    assert (cash.lifecycle, cash.allocations, cash.unapplied) == ("deleted", [], None)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10**6, 10**6)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str)
    | st.text(max_size=8)
    | st.sampled_from(["RECEIVE-OVERPAYMENT", "SPEND-PREPAYMENT", "VOIDED", "PAID",
                       "/Date(1740960000000+0000)/", "2025-13-01", "DELETED"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["Amount", "Date", "Invoice", "InvoiceID",
                                       "IsDeleted", "Status", "PaymentID"]),
                      children, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    which=st.sampled_from(["Overpayments", "Prepayments"]),
    changes=st.dictionaries(
        st.sampled_from(["Type", "Status", "Total", "Date", "RemainingCredit",
                         "Allocations", "Payments", "Contact", "CurrencyCode",
                         "OverpaymentID", "PrepaymentID", "UpdatedDateUTC"]),
        _values,
        max_size=4,
    ),
)  # fmt: skip
def test_arbitrary_values_give_a_consistent_payment_or_a_named_rejection(
    tmp_path, which, changes
):
    base = overpayment() if which == "Overpayments" else prepayment()
    try:
        items = parse(tmp_path, envelope(**{which: [{**base, **changes}]}))
    except AdapterError:
        return
    for item in items:
        assert isinstance(item, AccountRecord | PaymentRecord | Rejection | Note), item
    for cash in of(items, PaymentRecord):
        assert cash.amount is not None and cash.amount >= 0
        applied = sum((a.amount for a in cash.allocations), Decimal(0))
        assert all(a.amount >= 0 and a.kind == "cash" for a in cash.allocations)
        left = (cash.unapplied or 0) + (cash.refunded or 0)
        assert applied + left <= cash.amount
    assert len(of(items, PaymentRecord)) + len(of(items, Rejection)) <= 1
