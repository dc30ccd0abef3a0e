"""Same number, two customers (issue 11, item 16).

QuickBooks lets two customers' invoices share a number, and its reports carry no ids. A
report's document is identified by its type, number and customer, so neither replaces
the other; a store that imported reports when the number alone was the id keeps its
records (re-importing changes nothing) while the second customer's document is added.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

import adapters.quickbooks_report as report
from tests.adapters.test_quickbooks_report import (
    IL_HEADER,
    OI_HEADER,
    TL_HEADER,
    il_row,
    report_csv,
    tl_row,
)
from tests.helpers import header_without_lines, invoice_row, run_import, write_csv


def open_invoices(
    *customers: tuple[str, list[tuple[str, str, str]]], period=""
) -> bytes:
    """An Open Invoices report: per customer, (number, amount, open balance) rows."""
    body: list[list[str]] = []
    for name, rows in customers:
        body.append([name])
        for number, amount, balance in rows:
            body.append(
                ["", "03/03/2025", "Invoice", number, "04/02/2025", amount, balance, ""]
            )
        body.append([f"Total for {name}"])
    preamble = ["Harbor Plumbing & Heating", "Open Invoices", period or "As of June 30"]
    return report_csv(OI_HEADER, body, preamble=preamble)


def stored(store) -> list[tuple[str, str, str, int]]:
    """(number, account, external id, open balance) of every invoice, sorted."""
    with store.read() as conn:
        return sorted(
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT i.number, a.name, i.external_id, i.balance_minor FROM invoice i "
                    "JOIN account a ON a.id = i.account_id"
                )
            )
        )


def balance_of(store, name: str) -> int:
    with store.read() as conn:
        return conn.execute(
            text(
                "SELECT sum(i.balance_minor) FROM invoice i JOIN account a "
                "ON a.id = i.account_id WHERE a.name = :n"
            ),
            {"n": name},
        ).scalar_one()


@pytest.mark.parametrize("shape", ["open_invoices", "invoice_list", "transaction_list"])
def test_two_customers_invoices_with_one_number_are_two_invoices(
    store, settings, tmp_path, shape
):
    if shape == "open_invoices":
        data = open_invoices(
            ("Bayview Café", [("1001", "500.00", "500.00")]),
            ("Cedar Dental", [("1001", "80.00", "80.00"), ("1002", "20.00", "20.00")]),
        )
    elif shape == "invoice_list":
        body = [
            il_row("1001", "Bayview Café", "500.00", "500.00"),
            il_row("1001", "Cedar Dental", "80.00", "80.00"),
            il_row("1002", "Cedar Dental", "20.00", "20.00"),
        ]
        data = report_csv(IL_HEADER, body, title="Invoice List")
    else:
        body = [
            ["Bayview Café"],
            tl_row("03/03/2025", "Invoice", "1001", "500.00"),
            ["Cedar Dental"],
            tl_row("03/03/2025", "Invoice", "1001", "80.00"),
            tl_row("03/03/2025", "Invoice", "1002", "20.00"),
        ]
        data = report_csv(TL_HEADER, body)
    path = tmp_path / f"{shape}.csv"
    path.write_bytes(data)
    result = run_import(store, settings, path, source="qb")
    assert (result.status, result.created, result.rejected) == ("applied", 3, [])
    assert [(n, a) for n, a, _, _ in stored(store)] == [
        ("1001", "Bayview Café"),
        ("1001", "Cedar Dental"),
        ("1002", "Cedar Dental"),
    ]
    if shape != "transaction_list":  # a transaction list has no open balances
        assert (
            balance_of(store, "Bayview Café"),
            balance_of(store, "Cedar Dental"),
        ) == (
            50000,
            10000,
        )


def test_a_store_that_imported_reports_by_number_keeps_its_records(
    store, settings, tmp_path, monkeypatch
):
    """Reports imported when the number alone was the id: the same report again changes
    nothing; a second customer's invoice 1001 is added beside the first, not over it."""
    monkeypatch.setattr(
        report,
        "document_key",
        lambda kind, number, key: (
            f"Sales Receipt {number}" if kind == "Sales Receipt" else number
        ),
    )
    first = tmp_path / "march.csv"
    first.write_bytes(
        open_invoices(("Bayview Café", [("1001", "500.00", "500.00")]), period="March")
    )
    assert run_import(store, settings, first, source="qb").created == 1
    assert [e for _, _, e, _ in stored(store)] == ["1001"]  # the old identity
    monkeypatch.undo()

    again = tmp_path / "april.csv"
    again.write_bytes(
        open_invoices(("Bayview Café", [("1001", "500.00", "500.00")]), period="April")
    )
    result = run_import(store, settings, again, source="qb")
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)

    both = tmp_path / "may.csv"
    both.write_bytes(
        open_invoices(
            ("Bayview Café", [("1001", "500.00", "450.00")]),
            ("Cedar Dental", [("1001", "80.00", "80.00")]),
            period="May",
        )
    )
    result = run_import(store, settings, both, source="qb")
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert stored(store) == [
        ("1001", "Bayview Café", "1001", 45000),
        ("1001", "Cedar Dental", '["Invoice","1001","Cedar Dental"]', 8000),
    ]


def test_a_payment_names_the_invoice_of_its_own_customer_when_numbers_repeat(
    store, settings, tmp_path
):
    path = tmp_path / "open.csv"
    path.write_bytes(
        open_invoices(
            ("Bayview Café", [("1001", "500.00", "500.00")]),
            ("Cedar Dental", [("1001", "80.00", "80.00")]),
        )
    )
    run_import(store, settings, path, source="qb")
    payment = invoice_row(
        "PAY-1", "Cedar Dental", "80.00", record_type="payment", applies_to="1001=80.00"
    )
    result = run_import(
        store,
        settings,
        write_csv(tmp_path / "pay.csv", header_without_lines(), [payment]),
        source="qb",
    )
    assert result.rejected == []
    with store.read() as conn:
        paid = conn.execute(
            text(
                "SELECT a.name, l.amount_minor FROM allocation l JOIN invoice i "
                "ON i.id = l.invoice_id JOIN account a ON a.id = i.account_id"
            )
        ).all()
    assert [tuple(r) for r in paid] == [("Cedar Dental", 8000)]


def test_sales_receipts_and_their_payments_keep_their_ids(tmp_path):
    body = [["Alder"], tl_row("03/03/2025", "Sales Receipt", "77", "40.00")]
    path = tmp_path / "tl.csv"
    path.write_bytes(report_csv(TL_HEADER, body))
    from schemas.records import DocumentRecord, PaymentRecord
    from tests.adapters.test_quickbooks_report import of, parse_path

    items = parse_path(path)
    [receipt] = of(items, DocumentRecord)
    [payment] = of(items, PaymentRecord)
    assert receipt.external_id == '["Sales Receipt","77","Alder"]'
    assert receipt.former_id == "Sales Receipt 77"
    assert payment.external_id == "Alder/Sales Receipt 77/2025-03-03/1"
