"""QuickBooks Online report exports (CSV and Excel): dialect, quirks, refusals, ledgers."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError, FileRejected
from adapters.quickbooks_report import QuickBooksReport, sheets
from adapters.registry import all_adapters, detect_adapter
from adapters.toolkit.text import decode_head, sniff_bytes
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Note,
    PaymentRecord,
    Rejection,
)
from tests.adapters.quickbooks_report_workbooks import (
    CUSTOMER_BALANCE_DETAIL,
    write_report,
)
from tests.conftest import SAMPLES
from tests.helpers import balances_by_account, count, run_import

OURS = SAMPLES / "quickbooks_report"
INVOICE_LIST = OURS / "harbor_invoice_list.csv"
TRANSACTION_LIST = OURS / "harbor_transaction_list_by_customer.csv"
FOOTER = "Accrual Basis Monday, June 30, 2025 04:12 PM GMT-07:00"

# FORMATS.md section 10, the figures each report can express.
# Invoice List: billed, balance due; net = balance due (Pinecrest's credit is invisible).
INVOICE_LIST_FIGURES = {
    "Maple Street Dental": ("2510.40", "250.00", "250.00"),
    "Oakridge Property Management": ("1906.15", "281.15", "281.15"),
    "Jenna Alvarez": ("730.52", "524.90", "524.90"),
    "Bayview Café": ("1108.20", "808.20", "808.20"),
    "Thomas & Rita Okafor": ("943.80", "604.99", "604.99"),
    "Pinecrest HOA": ("650.00", "0.00", "0.00"),
    "Lighthouse Laundromat": ("1159.34", "1107.64", "1107.64"),
}
# Transaction List: billed, cash paid, credit-note total, net = billed - paid - credits.
TRANSACTION_LIST_FIGURES = {
    "Maple Street Dental": ("2510.40", "2260.40", "0.00", "250.00"),
    "Oakridge Property Management": ("1906.15", "1625.00", "0.00", "281.15"),
    "Jenna Alvarez": ("730.52", "205.62", "0.00", "524.90"),
    "Bayview Café": ("1108.20", "300.00", "0.00", "808.20"),
    "Thomas & Rita Okafor": ("943.80", "288.81", "50.00", "604.99"),
    "Pinecrest HOA": ("650.00", "650.00", "75.00", "-75.00"),
    "Lighthouse Laundromat": ("1159.34", "0.00", "51.70", "1107.64"),
}
# Open-items reports: balance due, remaining credit and net as of their date.
OPEN_ITEMS_FIGURES = {
    "Maple Street Dental": ("250.00", "0.00", "250.00"),
    "Oakridge Property Management": ("281.15", "0.00", "281.15"),
    "Jenna Alvarez": ("524.90", "0.00", "524.90"),
    "Bayview Café": ("808.20", "0.00", "808.20"),
    "Thomas & Rita Okafor": ("604.99", "0.00", "604.99"),
    "Pinecrest HOA": ("0.00", "75.00", "-75.00"),
    "Lighthouse Laundromat": ("1107.64", "0.00", "1107.64"),
}


# -- helpers ---------------------------------------------------------------------------


def export_for(path: Path) -> ExportFile:
    data = path.read_bytes()
    return ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(data), size=len(data)
    )


def parse_path(path: Path, **options) -> list:
    return list(QuickBooksReport().parse(export_for(path), ParseOptions(**options)))


def parse_bytes(
    tmp_path: Path, data: bytes, name: str = "report.csv", **options
) -> list:
    path = tmp_path / name
    path.write_bytes(data)
    return parse_path(path, **options)


def report_csv(
    header: list[str],
    body: list[list[str]],
    *,
    title: str = "Transaction List by Customer",
    preamble: list[str] | None = None,
    footer: str | None = FOOTER,
) -> bytes:
    """A QuickBooks report as CSV: padded preamble, empty first header cell, body, footer."""
    width = len(header) + 1
    if preamble is None:
        preamble = ["Harbor Plumbing & Heating", title, "All Dates"]
    rows = [[t] for t in preamble]
    rows += [[], ["", *header], *body, []]
    if footer:
        rows.append([footer])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([*row, *[""] * (width - len(row))])
    return buffer.getvalue().encode()


TL_HEADER = ["Date", "Transaction Type", "Num", "Posting", "Memo/Description", "Account", "Amount"]  # fmt: skip
IL_HEADER = ["Date", "Transaction Type", "Num", "Customer", "Memo/Description", "Due Date", "Terms", "Amount", "Open Balance"]  # fmt: skip
OI_HEADER = ["Date", "Transaction Type", "Num", "Due Date", "Amount", "Open Balance", "Balance"]  # fmt: skip


def tl_row(
    day: str, kind: str, num: str, amount: str, memo: str = "", posting: str = "Yes"
) -> list[str]:
    return ["", day, kind, num, posting, memo, "Accounts Receivable (A/R)", amount]


def il_row(
    num: str,
    customer: str,
    amount: str,
    open_balance: str,
    memo: str = "Work",
    day: str = "03/03/2025",
) -> list[str]:
    return [
        "",
        day,
        "Invoice",
        num,
        customer,
        memo,
        "04/02/2025",
        "Net 30",
        amount,
        open_balance,
    ]


def of(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def detect(data: bytes, name: str = "x.csv") -> bool:
    head = data[:65536]
    return QuickBooksReport.detect(
        Head(name, head, decode_head(head, sniff_bytes(head)))
    )


def claimants(data: bytes) -> list[str]:
    head = data[:65536]
    h = Head("x", head, decode_head(head, sniff_bytes(head)))
    return [a.name for a in all_adapters() if a.detect(h)]


def invoices(store) -> dict[str, tuple]:
    with store.read() as conn:
        return {
            r.number: (
                r.total_minor,
                r.paid_minor,
                r.credited_minor,
                r.balance_minor,
                r.status,
                r.lifecycle,
            )
            for r in conn.execute(text("SELECT * FROM invoice"))
        }


# -- the reference ledger through the whole pipeline ----------------------------------


def test_invoice_list_reproduces_billed_and_balance_due(store, settings):
    result = run_import(store, settings, INVOICE_LIST)
    assert (result.status, result.adapter, result.rejected) == (
        "applied",
        "quickbooks_report",
        [],
    )
    got = balances_by_account(store)
    assert len(got) == 7
    for name, (billed, due, net) in INVOICE_LIST_FIGURES.items():
        b = got[f"{name}|USD"]
        assert (b["total_billed"], b["balance_due"], b["net_balance"]) == (
            billed,
            due,
            net,
        ), name
        # The report mixes cash and credit in its Open Balance: cash paid is unknown.
        assert b["total_paid"] is None, name
    assert got["Pinecrest HOA|USD"]["void_invoice_count"] == 1


def test_invoice_list_per_invoice_balance_is_known_but_not_the_cash_credit_split(
    store, settings
):
    run_import(store, settings, INVOICE_LIST)
    rows = invoices(store)
    assert rows["1004"] == (72820, None, None, 42820, "partially_paid", "issued")
    assert rows["1001"] == (206040, None, None, 0, "paid", "issued")
    assert rows["1011"] == (52490, 0, 0, 52490, "unpaid", "issued")
    assert rows["1007"][4:] == ("void", "void")


def test_transaction_list_reproduces_billed_paid_credits_and_net(store, settings):
    result = run_import(store, settings, TRANSACTION_LIST)
    assert (result.status, result.rejected) == ("applied", [])
    got = balances_by_account(store)
    assert len(got) == 7
    for name, (billed, paid, credits, net) in TRANSACTION_LIST_FIGURES.items():
        b = got[f"{name}|USD"]
        assert (
            b["total_billed"],
            b["total_paid"],
            b["credit_note_total"],
            b["net_balance"],
        ) == (billed, paid, credits, net), name
        # Which invoice a payment or credit settled is not in the report, so neither
        # balances nor what is left of a credit note are known.
        # (An account with no credit notes or no payments has none of them left.)
        left = None if credits != "0.00" else "0.00"
        unapplied = None if paid != "0.00" else "0.00"
        assert (b["balance_due"], b["remaining_credit"], b["unapplied_payments"]) == (
            None,
            left,
            unapplied,
        ), name
    assert {s for *_, s, _ in invoices(store).values()} == {"unknown", "void"}
    assert any("Estimate 1015" in w for w in result.warnings)


@pytest.mark.parametrize(
    "name",
    [
        "harbor_open_invoices.csv",
        "harbor_customer_balance_detail.xlsx",
        "harbor_ar_aging_detail.xlsx",
    ],
)
def test_open_items_reports_give_balances_and_open_credit(store, settings, name):
    result = run_import(store, settings, OURS / name)
    assert (result.status, result.rejected) == ("applied", [])
    got = balances_by_account(store)
    for customer, (due, credit, net) in OPEN_ITEMS_FIGURES.items():
        b = got[f"{customer}|USD"]
        assert (b["balance_due"], b["remaining_credit"], b["net_balance"]) == (
            due,
            credit,
            net,
        ), customer
    rows = invoices(store)
    assert rows["1010"][3:5] == (110764, "partially_paid")
    assert "1001" not in rows  # settled invoices are not listed, and not invented


def test_a_void_keeps_the_total_an_earlier_export_gave(store, settings, tmp_path):
    before = tmp_path / "before.csv"
    before.write_bytes(
        report_csv(
            IL_HEADER,
            [il_row("1007", "Pinecrest HOA", "780.00", "780.00")],
            title="Invoice List",
            footer="Accrual Basis Tuesday, April 22, 2025 10:00 AM GMT-07:00",
        )
    )
    run_import(store, settings, before)
    run_import(store, settings, INVOICE_LIST)
    assert invoices(store)["1007"][0] == 78000
    assert invoices(store)["1007"][4] == "void"
    assert balances_by_account(store)["Pinecrest HOA|USD"]["total_billed"] == "650.00"


def test_importing_the_same_report_twice_changes_nothing(store, settings, tmp_path):
    run_import(store, settings, TRANSACTION_LIST)
    copy = tmp_path / "again.csv"
    copy.write_bytes(TRANSACTION_LIST.read_bytes() + b"\n")
    result = run_import(store, settings, copy)
    assert (result.created, result.updated) == (0, 0)


# -- dialect ------------------------------------------------------------------------


def test_export_info_comes_first_with_the_footer_time_in_utc():
    items = parse_path(INVOICE_LIST)
    assert isinstance(items[0], ExportInfo)
    assert items[0].as_of == datetime(2025, 6, 30, 23, 12)
    assert "Invoice List" in items[0].description


@pytest.mark.parametrize(
    ("footer", "as_of"),
    [
        (
            "Cash Basis Tuesday, July 1, 2025 9:05 AM GMT+10:00",
            datetime(2025, 6, 30, 23, 5),
        ),
        (
            "Accrual basis Tuesday, July 1, 2025 12:30 AM GMT",
            datetime(2025, 7, 1, 0, 30),
        ),
        (
            "Accrual Basis Tuesday, July 1, 2025 12:30 PM GMT-04:00",
            datetime(2025, 7, 1, 16, 30),
        ),
        ("Accrual Basis Tuesday, July 1, 2025 16:30", None),
        ("Accrual Basis Tuesday, July 1, 2025 13:30 PM GMT", None),
    ],
)
def test_footer_timestamps(tmp_path, footer, as_of):
    data = report_csv(
        TL_HEADER,
        [["Bayview Café"], tl_row("04/02/2025", "Invoice", "1004", "728.20")],
        footer=footer,
    )
    items = parse_bytes(tmp_path, data)
    assert items[0].as_of == as_of
    if as_of is None:
        assert any("time zone" in n.message for n in of(items, Note))


def test_header_wording_and_title_order_vary(tmp_path):
    header = [
        "Transaction date",
        "Transaction type",
        "No.",
        "Name",
        "Description",
        "Due date",
        "Amount",
        "Open balance",
    ]
    body = [
        [
            "",
            "03/03/2025",
            "Invoice",
            "1001",
            "Maple Street Dental",
            "Water heater",
            "04/02/2025",
            "$2,060.40",
            "$10.00",
        ]
    ]
    data = report_csv(
        header,
        body,
        preamble=["Invoice List", "Harbor Plumbing & Heating", "All Dates"],
    )
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert (
        doc.number,
        doc.account.key,
        doc.total,
        doc.balance,
        doc.due_date,
        doc.memo,
    ) == (
        "1001",
        "Maple Street Dental",
        Decimal("2060.40"),
        Decimal("10.00"),
        date(2025, 4, 2),
        "Water heater",
    )
    assert doc.amount_paid is None and doc.amount_credited is None


@pytest.mark.parametrize(
    "amount", ["-50.00", "(50.00)", "50.00-", "$-50.00", "($50.00)", "50.00"]
)
def test_credit_memo_direction_comes_from_its_type(tmp_path, amount):
    data = report_csv(
        TL_HEADER, [["Okafor"], tl_row("04/20/2025", "Credit Memo", "CM-101", amount)]
    )
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert (doc.kind, doc.total, doc.balance) == ("credit_note", Decimal("50.00"), None)


def test_columns_are_found_by_name_in_any_order(tmp_path):
    original = report_csv(
        TL_HEADER,
        [
            ["Bayview Café"],
            tl_row("04/02/2025", "Invoice", "1004", "728.20"),
            tl_row("05/01/2025", "Payment", "1187", "300.00"),
        ],
    )
    rows = list(csv.reader(io.StringIO(original.decode())))
    order = [0, 7, 3, 1, 6, 2, 5, 4]
    shuffled = io.StringIO()
    csv.writer(shuffled, lineterminator="\n").writerows(
        [[r[i] for i in order] for r in rows]
    )
    a = [i for i in parse_bytes(tmp_path, original) if not isinstance(i, ExportInfo)]
    b = [
        i
        for i in parse_bytes(tmp_path, shuffled.getvalue().encode())
        if not isinstance(i, ExportInfo)
    ]
    assert a == b and len(of(a, DocumentRecord)) == 1


# -- refusals: number formats ----------------------------------------------------------


def test_a_report_exported_without_cents_is_refused(tmp_path):
    body = [
        il_row("1001", "Maple Street Dental", "2,060", "0"),
        il_row("1002", "Oakridge", "625", "625"),
    ]
    data = report_csv(
        IL_HEADER, [*body, ["TOTAL", *[""] * 7, "$2,685", "$625"]], title="Invoice List"
    )
    with pytest.raises(FileRejected, match="Without cents") as exc:
        parse_bytes(tmp_path, data)
    assert "'2,060' on line 6" in str(exc.value)


def test_whole_dollar_amounts_written_with_cents_are_fine(tmp_path):
    data = report_csv(
        IL_HEADER, [il_row("1002", "Oakridge", "625.00", "0.00")], title="Invoice List"
    )
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert doc.total == Decimal("625.00")


@pytest.mark.parametrize(
    ("preamble", "header_amount"),
    [
        (
            [
                "Harbor Plumbing & Heating",
                "Invoice List",
                "All Dates",
                "Amounts in thousands",
            ],
            "Amount",
        ),
        (["Harbor Plumbing & Heating", "Invoice List", "All Dates"], "Amount (000s)"),
        (
            [
                "Harbor Plumbing & Heating",
                "Invoice List",
                "All Dates (divided by 1000)",
            ],
            "Amount",
        ),
    ],
)
def test_a_report_divided_by_1000_is_refused_when_it_says_so(
    tmp_path, preamble, header_amount
):
    header = [header_amount if h == "Amount" else h for h in IL_HEADER]
    data = report_csv(
        header, [il_row("1001", "Maple", "2.06", "0.00")], preamble=preamble
    )
    with pytest.raises(FileRejected, match="Divide by 1000"):
        parse_bytes(tmp_path, data)


def test_hidden_zero_amounts_reject_the_record(tmp_path):
    data = report_csv(
        IL_HEADER,
        [
            il_row("1001", "Maple", "2,060.40", ""),
            il_row("1002", "Oak", "625.00", "0.00"),
        ],
        title="Invoice List",
    )
    items = parse_bytes(tmp_path, data)
    [r] = of(items, Rejection)
    assert (r.record, r.column, r.line) == ("Invoice 1001", "Open Balance", 6)
    assert "Except zero amount" in r.reason
    assert [d.number for d in of(items, DocumentRecord)] == ["1002"]


# -- dates -----------------------------------------------------------------------------


def test_dates_are_month_first_by_default(tmp_path):
    data = report_csv(TL_HEADER, [["A"], tl_row("03/04/2025", "Invoice", "1", "1.00")])
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert doc.issue_date == date(2025, 3, 4)
    [doc] = of(parse_bytes(tmp_path, data, date_order="DMY"), DocumentRecord)
    assert doc.issue_date == date(2025, 4, 3)


def test_a_day_first_company_is_read_day_first(tmp_path):
    data = report_csv(
        TL_HEADER,
        [
            ["A"],
            tl_row("03/04/2025", "Invoice", "1", "1.00"),
            tl_row("25/04/2025", "Invoice", "2", "1.00"),
        ],
    )
    docs = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert [d.issue_date for d in docs] == [date(2025, 4, 3), date(2025, 4, 25)]


def test_contradicting_dates_refuse_the_file(tmp_path):
    data = report_csv(
        TL_HEADER,
        [
            ["A"],
            tl_row("04/25/2025", "Invoice", "1", "1.00"),
            tl_row("25/04/2025", "Invoice", "2", "1.00"),
        ],
    )
    with pytest.raises(FileRejected, match="contradict"):
        parse_bytes(tmp_path, data)


def test_an_impossible_date_rejects_its_record(tmp_path):
    data = report_csv(
        TL_HEADER,
        [
            ["A"],
            tl_row("06/31/2025", "Invoice", "1", "1.00"),
            tl_row("06/30/2025", "Invoice", "2", "1.00"),
        ],
    )
    items = parse_bytes(tmp_path, data)
    [r] = of(items, Rejection)
    assert (r.column, r.value, r.record) == ("Date", "06/31/2025", "Invoice 1")
    assert [d.number for d in of(items, DocumentRecord)] == ["2"]


# -- customers -------------------------------------------------------------------------


def test_parent_child_names_in_a_customer_column(tmp_path):
    data = report_csv(
        IL_HEADER,
        [il_row("1", "Freeman Sporting Goods:0969 Ocean View Road", "10.00", "10.00")],
        title="Invoice List",
    )
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert (doc.account.key, doc.account.name, doc.account.parent_key) == (
        "Freeman Sporting Goods:0969 Ocean View Road",
        "0969 Ocean View Road",
        "Freeman Sporting Goods",
    )


def test_names_are_compared_in_nfc_with_outer_spaces_dropped(tmp_path):
    body = [
        il_row("1", "Bayview Cafe\u0301 ", "1.00", "1.00"),
        il_row("2", "Bayview Café", "1.00", "1.00"),
        il_row("3", "O'Malley", "1.00", "1.00"),
        il_row("4", "O’Malley", "1.00", "1.00"),
    ]
    docs = of(
        parse_bytes(tmp_path, report_csv(IL_HEADER, body, title="Invoice List")),
        DocumentRecord,
    )
    assert [d.account.key for d in docs] == [
        "Bayview Café",
        "Bayview Café",
        "O'Malley",
        "O’Malley",
    ]


def test_nested_customer_groups_name_sub_customers(tmp_path):
    body = [
        ["Freeman Sporting Goods"],
        tl_row("03/01/2025", "Payment", "77", "5.00"),
        ["0969 Ocean View Road"],
        tl_row("03/02/2025", "Invoice", "1", "10.00"),
        ["Total for 0969 Ocean View Road", "", "", "", "", "", "", "10.00"],
        ["Freeman Sporting Goods:55 Twin Lane"],
        tl_row("03/03/2025", "Invoice", "2", "20.00"),
        [
            "Total for Freeman Sporting Goods:55 Twin Lane",
            "",
            "",
            "",
            "",
            "",
            "",
            "20.00",
        ],
        ["Total for Freeman Sporting Goods", "", "", "", "", "", "", "35.00"],
        ["Bayview Café"],
        tl_row("03/04/2025", "Invoice", "3", "30.00"),
        ["Total for Bayview Café", "", "", "", "", "", "", "30.00"],
        ["TOTAL", "", "", "", "", "", "", "65.00"],
    ]
    items = parse_bytes(tmp_path, report_csv(TL_HEADER, body))
    owners = {
        getattr(i, "number", None) or i.reference: i.account.key
        for i in items
        if isinstance(i, DocumentRecord | PaymentRecord)
    }
    assert owners == {
        "77": "Freeman Sporting Goods",
        "1": "Freeman Sporting Goods:0969 Ocean View Road",
        "2": "Freeman Sporting Goods:55 Twin Lane",
        "3": "Bayview Café",
    }
    assert not [n for n in of(items, Note) if "add up" in n.message]


def test_deeper_names_yield_their_intermediate_accounts_first(tmp_path):
    data = report_csv(
        IL_HEADER,
        [
            il_row("1", "Northgate:Tower A:Unit 5", "10.00", "10.00"),
            il_row("2", "Northgate:Tower A:Unit 6", "10.00", "10.00"),
        ],
        title="Invoice List",
    )
    items = [
        i
        for i in parse_bytes(tmp_path, data)
        if isinstance(i, AccountRecord | DocumentRecord)
    ]
    assert [(type(i).__name__, getattr(i, "key", None)) for i in items[:3]] == [
        ("AccountRecord", "Northgate"),
        ("AccountRecord", "Northgate:Tower A"),
        ("DocumentRecord", None),
    ]
    assert items[1].parent_key == "Northgate"
    assert len(of(items, AccountRecord)) == 2  # each ancestor once


def test_groups_without_subtotals_stand_alone(tmp_path):
    body = [
        ["Bayview Café"],
        tl_row("04/02/2025", "Invoice", "1", "1.00"),
        ["Jenna Alvarez"],
        tl_row("04/03/2025", "Invoice", "2", "1.00"),
    ]
    docs = of(parse_bytes(tmp_path, report_csv(TL_HEADER, body)), DocumentRecord)
    assert [d.account.key for d in docs] == ["Bayview Café", "Jenna Alvarez"]


def test_a_total_row_that_closes_no_group_refuses_a_grouped_report(tmp_path):
    body = [
        ["Bayview Café"],
        tl_row("04/02/2025", "Invoice", "1", "1.00"),
        ["Total for Jenna Alvarez", "", "", "", "", "", "", "1.00"],
    ]
    with pytest.raises(FileRejected, match="closes none"):
        parse_bytes(tmp_path, report_csv(TL_HEADER, body))


def test_a_row_with_no_customer_is_rejected(tmp_path):
    items = parse_bytes(
        tmp_path, report_csv(TL_HEADER, [tl_row("04/02/2025", "Invoice", "1", "1.00")])
    )
    [r] = of(items, Rejection)
    assert "customer group row" in r.reason


def test_aging_sections_are_not_customers(tmp_path):
    header = [
        "Date",
        "Transaction Type",
        "Num",
        "Customer",
        "Due Date",
        "Past Due",
        "Amount",
        "Open Balance",
    ]
    body = [
        ["1 - 30 days past due"],
        [
            "",
            "05/06/2025",
            "Invoice",
            "1009",
            "Maple Street Dental",
            "06/05/2025",
            "25",
            "450.00",
            "250.00",
        ],
        ["", "05/07/2025", "Invoice", "1010", "", "06/06/2025", "24", "10.00", "10.00"],
        ["Total for 1 - 30 days past due", "", "", "", "", "", "", "460.00", "260.00"],
    ]
    items = parse_bytes(tmp_path, report_csv(header, body, title="A/R Aging Detail"))
    [doc] = of(items, DocumentRecord)
    assert (doc.account.key, doc.balance) == ("Maple Street Dental", Decimal("250.00"))
    [r] = of(items, Rejection)
    assert (r.record, r.column) == ("Invoice 1010", "Customer")


# -- transaction types -----------------------------------------------------------------


def test_sales_receipt_is_an_invoice_paid_by_its_own_payment(tmp_path):
    data = report_csv(
        TL_HEADER, [["Walk-in"], tl_row("05/15/2025", "Sales Receipt", "1016", "95.00")]
    )
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    [pay] = of(parse_bytes(tmp_path, data), PaymentRecord)
    assert (
        doc.kind,
        doc.number,
        doc.total,
        doc.balance,
        doc.amount_paid,
        doc.paid_flag,
    ) == (
        "invoice",
        "1016",
        Decimal("95.00"),
        Decimal(0),
        Decimal("95.00"),
        True,
    )
    assert (pay.amount, pay.reference, pay.unapplied) == (
        Decimal("95.00"),
        "1016",
        Decimal(0),
    )
    assert pay.allocations == []  # see the ledger test below
    assert doc.external_id != "1016"  # sales receipts do not collide with invoice 1016


def test_sales_receipt_through_the_ledger_leaves_other_invoices_unknown(
    store, settings, tmp_path
):
    path = tmp_path / "sr.csv"
    body = [
        ["Walk-in"],
        tl_row("05/15/2025", "Sales Receipt", "1016", "95.00"),
        ["Maple Street Dental"],
        tl_row("05/06/2025", "Invoice", "1009", "450.00"),
        tl_row("06/02/2025", "Payment", "MC-0912", "200.00"),
    ]
    path.write_bytes(report_csv(TL_HEADER, body))
    run_import(store, settings, path)
    got = balances_by_account(store)
    walk_in, maple = got["Walk-in|USD"], got["Maple Street Dental|USD"]
    assert (
        walk_in["total_billed"],
        walk_in["total_paid"],
        walk_in["balance_due"],
        walk_in["net_balance"],
    ) == ("95.00", "95.00", "0.00", "0.00")
    # Which invoice the 200.00 paid is not in the report: 1009 is not "unpaid".
    assert (maple["balance_due"], maple["net_balance"]) == (None, "250.00")
    assert invoices(store)["1009"][4] == "unknown"


def test_rows_that_do_not_post_or_are_not_imported_become_notes(tmp_path):
    body = [
        ["A"],
        tl_row("06/18/2025", "Estimate", "1015", "3,450.00", posting="No"),
        tl_row("06/18/2025", "Invoice", "1016", "10.00", posting="No"),
        tl_row("06/19/2025", "Refund", "17", "-20.00"),
        tl_row("06/20/2025", "Journal Entry", "JE-1", "-5.00"),
    ]
    items = parse_bytes(tmp_path, report_csv(TL_HEADER, body))
    assert (
        not of(items, DocumentRecord)
        and not of(items, PaymentRecord)
        and not of(items, Rejection)
    )
    messages = [n.message for n in of(items, Note) if n.line]
    assert [m.split(":")[0] for m in messages] == [
        "skipped Estimate 1015",
        "skipped Invoice 1016",
        "skipped Refund 17 (-20.00)",
        "skipped Journal Entry JE-1 (-5.00)",
    ]
    assert "leaves what they owe unchanged" in messages[2]


def test_zero_payments_are_notes_not_cash(tmp_path):
    body = [
        ["A"],
        tl_row("05/30/2025", "Payment", "", "0.00"),
        tl_row("05/31/2025", "Payment", "88", "0.00", memo="Voided"),
    ]
    items = parse_bytes(tmp_path, report_csv(TL_HEADER, body))
    assert of(items, PaymentRecord) == []
    notes = [n.message for n in of(items, Note) if n.line]
    assert notes == [
        "skipped Payment (no number) on 2025-05-30: 0.00, no cash received "
        "(applies a credit)",
        "skipped Payment 88 on 2025-05-31: 0.00, no cash received (voided)",
    ]


def test_a_report_keeps_the_line_items_another_export_gave(store, settings):
    run_import(store, settings, SAMPLES / "generic" / "harbor_ledger.csv", source="qb")
    lines = count(store, "invoice_line")
    result = run_import(store, settings, INVOICE_LIST, source="qb")
    assert result.updated > 0
    assert count(store, "invoice_line") == lines > 0


def test_payments_without_ids_get_distinct_stable_ids(tmp_path):
    body = [
        ["A"],
        tl_row("06/02/2025", "Payment", "", "100.00"),
        tl_row("06/02/2025", "Payment", "", "100.00"),
        tl_row("06/02/2025", "Payment", "4471", "5.00"),
    ]
    data = report_csv(TL_HEADER, body)
    ids = [p.external_id for p in of(parse_bytes(tmp_path, data), PaymentRecord)]
    assert ids == ["A//2025-06-02/1", "A//2025-06-02/2", "A/4471/2025-06-02/1"]
    assert ids == [
        p.external_id for p in of(parse_bytes(tmp_path, data), PaymentRecord)
    ]


def test_a_missing_type_or_number_rejects_the_record(tmp_path):
    body = [
        ["A"],
        tl_row("06/02/2025", "", "1", "1.00"),
        tl_row("06/02/2025", "Invoice", "", "1.00"),
    ]
    rejections = of(parse_bytes(tmp_path, report_csv(TL_HEADER, body)), Rejection)
    assert [(r.column, r.line) for r in rejections] == [
        ("Transaction Type", 7),
        ("Num", 8),
    ]


def test_voided_invoice_is_void_but_a_zero_invoice_is_not(tmp_path):
    body = [
        il_row("1007", "P", "0.00", "0.00", memo="Voided"),
        il_row("1008", "P", "0.00", "0.00", memo="No charge"),
    ]
    docs = of(
        parse_bytes(tmp_path, report_csv(IL_HEADER, body, title="Invoice List")),
        DocumentRecord,
    )
    assert [d.lifecycle for d in docs] == ["void", "issued"]


def test_another_currency_is_rejected_not_mislabelled(tmp_path):
    header = [*IL_HEADER, "Currency"]
    body = [
        [*il_row("1", "A", "10.00", "10.00"), "EUR"],
        [*il_row("2", "B", "10.00", "10.00"), "USD"],
    ]
    items = parse_bytes(tmp_path, report_csv(header, body, title="Invoice List"))
    [r] = of(items, Rejection)
    assert (r.column, r.value) == ("Currency", "EUR")
    assert [d.number for d in of(items, DocumentRecord)] == ["2"]


# -- open items ------------------------------------------------------------------------


def test_open_items_take_open_balance_not_the_running_balance(tmp_path):
    body = [
        ["Harper & Sons Bakery"],
        [
            "",
            "06/01/2025",
            "Invoice",
            "2001",
            "07/01/2025",
            "920.00",
            "720.00",
            "720.00",
        ],
        [
            "",
            "06/05/2025",
            "Credit Memo",
            "CM-9",
            "06/05/2025",
            "-120.00",
            "-20.00",
            "700.00",
        ],
        ["", "06/07/2025", "Payment", "5521", "", "-1,000.00", "-200.00", "500.00"],
        [
            "Total for Harper & Sons Bakery",
            "",
            "",
            "",
            "",
            "-200.00",
            "500.00",
            "500.00",
        ],
    ]
    items = parse_bytes(
        tmp_path, report_csv(OI_HEADER, body, title="Customer Balance Detail")
    )
    invoice, credit = of(items, DocumentRecord)
    [payment] = of(items, PaymentRecord)
    assert (invoice.total, invoice.balance) == (Decimal("920.00"), Decimal("720.00"))
    assert (credit.kind, credit.total, credit.balance) == (
        "credit_note",
        Decimal("120.00"),
        Decimal("20.00"),
    )
    assert (payment.amount, payment.unapplied, payment.reference) == (
        Decimal("1000.00"),
        Decimal("200.00"),
        "5521",
    )
    assert not [n for n in of(items, Note) if "add up" in n.message]


def test_open_items_need_an_open_balance_column(tmp_path):
    header = ["Date", "Transaction Type", "Num", "Amount", "Balance"]
    with pytest.raises(FileRejected, match="Open Balance.*running total"):
        parse_bytes(tmp_path, report_csv(header, [], title="Open Invoices"))


# -- totals, truncation, shape ---------------------------------------------------------


def test_totals_that_do_not_add_up_are_warnings(tmp_path):
    body = [
        ["A"],
        tl_row("04/02/2025", "Invoice", "1", "10.00"),
        ["Total for A", "", "", "", "", "", "", "$12.00"],
        ["TOTAL", "", "", "", "", "", "", "10.00"],
    ]
    items = parse_bytes(tmp_path, report_csv(TL_HEADER, body))
    [warning] = [n for n in of(items, Note) if "add up" in n.message]
    assert (
        warning.line == 8 and "12.00" in warning.message and "10.00" in warning.message
    )
    assert len(of(items, DocumentRecord)) == 1


def test_a_cut_off_last_row_is_rejected_and_the_rest_imports(tmp_path):
    data = report_csv(
        TL_HEADER,
        [
            ["A"],
            tl_row("04/02/2025", "Invoice", "1", "10.00"),
            tl_row("04/03/2025", "Invoice", "2", "380.00"),
        ],
        footer=None,
    )
    # "...,38" and no newline: a cut amount that still reads as a number
    cut = data.rstrip(b",\n")[:-4]
    items = parse_bytes(tmp_path, cut)
    [r] = of(items, Rejection)
    assert (r.record, "truncated" in r.reason) == ("Invoice 2", True)
    assert [d.number for d in of(items, DocumentRecord)] == ["1"]
    assert any("no 'Accrual Basis" in n.message for n in of(items, Note))


def test_rows_with_too_few_or_too_many_fields_are_rejected(tmp_path):
    good = report_csv(TL_HEADER, [["A"], tl_row("04/02/2025", "Invoice", "1", "10.00")])
    lines = good.decode().split("\n")
    lines.insert(7, ",04/03/2025,Invoice,2,Yes,,A/R")
    lines.insert(8, ",04/03/2025,Invoice,3,Yes,a,b,A/R,10.00")
    rejections = of(parse_bytes(tmp_path, "\n".join(lines).encode()), Rejection)
    assert [(r.record, r.line) for r in rejections] == [
        ("Invoice 2", 8),
        ("Invoice 3", 9),
    ]
    assert (
        "found 7" in rejections[0].reason and "unquoted comma" in rejections[1].reason
    )


def test_a_labelled_row_with_data_is_rejected(tmp_path):
    body = [["A"], ["Stray", "04/02/2025", "Invoice", "1", "Yes", "", "A/R", "10.00"]]
    [r] = of(parse_bytes(tmp_path, report_csv(TL_HEADER, body)), Rejection)
    assert r.line == 7 and "empty first cell" in r.reason


def test_bom_cp1252_and_crlf_are_read(tmp_path):
    text_ = report_csv(
        IL_HEADER,
        [il_row("1015", "Declan O’Brien – Bayview Café", "312.50", "312.50")],
        title="Invoice List",
    ).decode()
    for data in (
        b"\xef\xbb\xbf" + text_.encode(),
        text_.replace("\n", "\r\n").encode("cp1252"),
    ):
        [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
        assert doc.account.key == "Declan O’Brien – Bayview Café"


# -- which reports -------------------------------------------------------------------


def test_other_reports_are_refused_by_title(tmp_path):
    data = report_csv(TL_HEADER, [["A"]], title="Sales by Customer Detail")
    with pytest.raises(FileRejected, match="Sales by Customer Detail"):
        parse_bytes(tmp_path, data)


def test_a_report_without_title_rows_is_read_by_its_columns(tmp_path):
    data = report_csv(IL_HEADER, [il_row("1", "A", "10.00", "4.00")], preamble=[])
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert doc.balance == Decimal("4.00")
    line_items = report_csv(
        ["Date", "Transaction Type", "Num", "Product/Service", "Qty", "Amount"],
        [],
        preamble=[],
    )
    with pytest.raises(FileRejected, match="line-item"):
        parse_bytes(tmp_path, line_items)


def test_a_file_without_a_report_header_is_refused(tmp_path):
    with pytest.raises(FileRejected, match="header row whose first cell is empty"):
        parse_bytes(tmp_path, b"Harbor\nInvoice List\nDate,Num,Amount\n1,2,3\n")


# -- Excel ----------------------------------------------------------------------------


def test_excel_cells_are_read_as_exact_values(tmp_path):
    items = parse_path(OURS / "harbor_customer_balance_detail.xlsx")
    assert items[0].as_of == datetime(2025, 6, 30, 23, 12)
    docs = {d.number: d for d in of(items, DocumentRecord)}
    assert (docs["1010"].total, docs["1010"].balance) == (
        Decimal("1159.34"),
        Decimal("1107.64"),
    )
    assert docs["1004"].issue_date == date(2025, 4, 2) and docs[
        "1004"
    ].due_date == date(2025, 5, 2)
    assert (docs["CM-103"].kind, docs["CM-103"].balance) == (
        "credit_note",
        Decimal("75"),
    )
    assert all(isinstance(d.total, Decimal) for d in docs.values())


def test_excel_text_dates_numbers_and_nested_jobs(tmp_path):
    items = parse_path(OURS / "transaction_list_jobs.xlsx")
    docs = {d.number: d for d in of(items, DocumentRecord)}
    assert docs["1012"].issue_date == date(2025, 6, 10)  # a text cell
    assert docs["CM-104"].total == Decimal("40.00")  # "(40.00)" as text
    assert docs["1014"].account.key == "Oakridge Property Management:88 Commercial St"
    pays = {p.reference: p for p in of(items, PaymentRecord)}
    assert pays["1187"].account.key == "Bayview Café"  # a numeric Num cell
    assert pays["20931"].account.key == "Oakridge Property Management"


def _workbook(tmp_path: Path, rows: list, **kw) -> Path:
    return write_report(tmp_path / "report.xlsx", rows, **kw)


IL_XLSX_ROWS = [
    ["Harbor Plumbing & Heating"],
    ["Invoice List"],
    ["All Dates"],
    [],
    ["", "Date", "Transaction Type", "Num", "Customer", "Amount", "Open Balance"],
    [
        "",
        date(2025, 3, 3),
        "Invoice",
        "1001",
        "Maple Street Dental",
        Decimal("2060"),
        Decimal("0"),
    ],
    [
        "",
        date(2025, 3, 4),
        "Invoice",
        "1002",
        "Oakridge",
        Decimal("625"),
        Decimal("625"),
    ],
    ["TOTAL", "", "", "", "", Decimal("2685"), Decimal("625")],
    [],
    [FOOTER],
]


def test_excel_without_cents_is_refused_by_its_number_format(tmp_path):
    with pytest.raises(FileRejected, match="Without cents"):
        parse_path(_workbook(tmp_path, IL_XLSX_ROWS, money_format="#,##0"))
    docs = of(
        parse_path(_workbook(tmp_path, IL_XLSX_ROWS)), DocumentRecord
    )  # "#,##0.00"
    assert [d.total for d in docs] == [Decimal("2060"), Decimal("625")]


def test_excel_general_format_amounts_with_cents_are_fine(tmp_path):
    rows = [list(r) for r in IL_XLSX_ROWS]
    rows[5][5] = Decimal("2060.4")
    rows[7][5] = Decimal("2685.4")
    docs = of(
        parse_path(_workbook(tmp_path, rows, money_format="General")), DocumentRecord
    )
    assert docs[0].total == Decimal("2060.4")


def test_a_workbook_that_is_not_a_report_is_refused(tmp_path):
    path = _workbook(tmp_path, [["Name", "Age"], ["Bob", 3]])
    assert detect(path.read_bytes(), "people.xlsx")
    with pytest.raises(FileRejected, match="expected a QuickBooks report"):
        parse_path(path)


def _zip(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_bombs_and_other_archives_are_refused_before_opening(tmp_path, monkeypatch):
    bomb = _zip(
        tmp_path,
        {
            "[Content_Types].xml": b"<x/>",
            "xl/worksheets/sheet1.xml": b"<" * (20 * 2**20),
        },
    )
    with pytest.raises(FileRejected, match="decompression bomb"):
        parse_path(bomb)
    docx = _zip(
        tmp_path, {"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"}
    )
    with pytest.raises(FileRejected, match="holds other files"):
        parse_path(docx)
    monkeypatch.setattr(sheets, "MAX_XLSX_BYTES", 1000)
    with pytest.raises(FileRejected, match="unpacks to"):
        parse_path(_workbook(tmp_path, IL_XLSX_ROWS))


def test_a_damaged_workbook_is_refused(tmp_path):
    good = _workbook(tmp_path, IL_XLSX_ROWS).read_bytes()
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(FileRejected, match="cannot be read"):
        parse_path(broken)
    sheetless = _zip(
        tmp_path,
        {"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<not-a-workbook"},
    )
    with pytest.raises(FileRejected):
        parse_path(sheetless)


# -- detection, both ways --------------------------------------------------------------


# The heads of the other formats' reference files (FORMATS.md section 10).
OTHER_FORMATS = {
    "qbd_invoices.iif": (
        b"!HDR\tPROD\tVER\tREL\tIIFVER\tDATE\tTIME\r\n"
        b"HDR\tQuickBooks Pro\tVersion 33.0D\tRelease R7P\t1\t2025-06-30\t1751325120\r\n"
        b"!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\r\n"
    ),
    "qbo_api_invoices.json": b'{\n  "BatchItemResponse": [\n    {\n      "QueryResponse": {\n',
    "xero_api_invoices.json": b'{\n  "Id": "64204e15",\n  "Status": "OK",\n  "Invoices": [\n',
    "xero_sales_invoices.csv": (
        b"ContactName,EmailAddress,POAddressLine1,InvoiceNumber,Reference,InvoiceDate,"
        b"DueDate,Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue,Description,Quantity,"
        b"UnitAmount,LineAmount,AccountCode,TaxType,Currency,Type,Status\n"
        b"Bayview Caf\xc3\xa9,ap@bayview.example,,INV-1004,,02/04/2025,02/05/2025,728.20,"
        b"12.20,300.00,428.20,Grease trap,1,640.00,640.00,200,Tax on Sales,USD,"
        b"Sales invoice,Awaiting Payment\n"
    ),
    "generic_invoices.csv": (
        b"record_type,number,customer_id,customer_name,issue_date,total,balance_due\n"
        b"invoice,1001,C1,Maple Street Dental,2025-03-03,2060.40,0.00\n"
    ),
}


def test_detects_its_reports_and_only_them():
    for path in sorted(SAMPLES.glob("*/*")):
        if path.name.endswith(".expected.json"):
            continue
        mine = path.parent.name == "quickbooks_report"
        assert detect(path.read_bytes(), path.name) is mine, path
        if mine:
            assert claimants(path.read_bytes()) == ["quickbooks_report"], path.name
    for name, head in OTHER_FORMATS.items():
        assert not detect(head, name), name


def test_generic_csv_leaves_a_report_without_title_rows_alone():
    hidden = b",Date,Num,Posting,Account,Amount\n,04/02/2025,1004,Yes,A/R,728.20\n"
    head = Head("x.csv", hidden, hidden.decode())
    assert QuickBooksReport.detect(head)
    assert detect_adapter(head) is QuickBooksReport
    # Without the empty first cell this adapter does not claim it, and its
    # QuickBooks-only column (Posting) keeps the fallback away: refused, not misread.
    shifted = b"Date,Num,Posting,Account,Amount\n04/02/2025,1004,Yes,A/R,728.20\n"
    with pytest.raises(FileRejected, match="unrecognised file"):
        detect_adapter(Head("x.csv", shifted, shifted.decode()))
    assert not detect(
        b",Date,Num,Amount\n,04/02/2025,1,2.00\n"
    )  # nothing QuickBooks-only
    assert not detect(b"Date,Num,Amount\n04/02/2025,1,2.00\n")


# -- nothing but AdapterError escapes ---------------------------------------------------

_SAMPLE = TRANSACTION_LIST.read_bytes()
_FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _only_records(tmp_path: Path, data: bytes, name: str = "report.csv") -> None:
    try:
        items = parse_bytes(tmp_path, data, name)
    except AdapterError:
        return
    for item in items:
        assert isinstance(
            item,
            AccountRecord
            | DocumentRecord
            | PaymentRecord
            | Rejection
            | Note
            | ExportInfo,
        )
        if isinstance(item, DocumentRecord):
            assert item.total is not None and item.total >= 0


@_FUZZ
@given(
    encoding=st.sampled_from(["cp1252", "utf-16", "utf-8-sig", "latin-1"]),
    seed=st.integers(0, 2**16),
)
def test_reencoded_and_shuffled_reports_raise_only_adapter_errors(
    tmp_path, encoding, seed
):
    rows = list(csv.reader(io.StringIO(_SAMPLE.decode())))
    order = [0, *random.Random(seed).sample(range(1, 8), 7)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [[r[i] for i in order] for r in rows]
    )
    _only_records(tmp_path, buffer.getvalue().encode(encoding))


_CELL = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "Invoice",
            "Payment",
            "Credit Memo",
            "TOTAL",
            "Total for A",
            "0.00",
            "(1.00)",
            "13/13/2025",
            FOOTER,
        ]
    ),
)


@_FUZZ
@given(rows=st.lists(st.lists(_CELL, max_size=9), max_size=10))
def test_arbitrary_report_bodies_raise_only_adapter_errors(tmp_path, rows):
    _only_records(tmp_path, report_csv(TL_HEADER, rows))


@pytest.fixture(scope="module")
def workbook_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_report(
        tmp_path_factory.mktemp("wb") / "cbd.xlsx", CUSTOMER_BALANCE_DETAIL
    ).read_bytes()


@_FUZZ
@given(at=st.integers(0, 10_000), blob=st.binary(min_size=1, max_size=8))
def test_damaged_workbooks_raise_only_adapter_errors(
    tmp_path, workbook_bytes, at, blob
):
    data = bytearray(workbook_bytes)
    at %= len(data)
    data[at : at + len(blob)] = blob
    _only_records(tmp_path, bytes(data), "report.xlsx")
