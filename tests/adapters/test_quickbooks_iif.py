"""QuickBooks Desktop IIF: transactions as units, signs, voids, jobs, dates, bad input."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import FileRejected
from adapters.generic_csv import GenericCsv
from adapters.quickbooks_iif import QuickBooksIif
from adapters.registry import detect_adapter
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
from tests.helpers import balances_by_account, count, run_import

FOLDER = SAMPLES / "quickbooks_iif"
REFERENCE = FOLDER / "harbor_ledger.iif"
COMMA_JOBS = FOLDER / "jobs_comma_utf8_bom.iif"
MESSY = FOLDER / "messy_cp1252_truncated.iif"

TRNS = "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\tDUEDATE\tPAID\tPAYMETH"
SPL = "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\tQNTY\tPRICE\tINVITEM\tEXTRA"


def iif(*rows: str, header: bool = True) -> bytes:
    """A small tab-separated IIF file (CRLF, cp1252) with the usual definition rows."""
    lines = [TRNS, SPL, "!ENDTRNS", *rows] if header else list(rows)
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def invoice(
    number: str = "1001",
    name: str = "Maple Street Dental",
    amount: str = "100.00",
    when: str = "3/3/2025",
    *,
    paid: str = "N",
    memo: str = "",
    kind: str = "INVOICE",
    spl_amount: str | None = None,
    trnsid: str = "",
) -> list[str]:
    split = spl_amount if spl_amount is not None else str(-Decimal(amount))
    return [
        f"TRNS\t{trnsid}\t{kind}\t{when}\tAccounts Receivable\t{name}\t{amount}\t{number}\t{memo}\t\t{paid}\t",
        f"SPL\t\t{kind}\t{when}\tServices\t\t{split}\t\tLabor\t-1\t{amount}\tLabor\t",
        "ENDTRNS",
    ]


def payment(
    name: str, amount: str, ref: str, when: str = "3/28/2025", trnsid: str = ""
) -> list[str]:
    return [
        f"TRNS\t{trnsid}\tPAYMENT\t{when}\tUndeposited Funds\t{name}\t{amount}\t{ref}\tPayment received\t\t\tCheck",
        f"SPL\t\tPAYMENT\t{when}\tAccounts Receivable\t{name}\t-{amount}\t{ref}\t\t\t\t\t",
        "ENDTRNS",
    ]


def parse_bytes(tmp_path: Path, data: bytes, **options) -> list:
    path = tmp_path / "export.iif"
    path.write_bytes(data)
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(data), size=len(data)
    )
    return list(QuickBooksIif().parse(export, ParseOptions(**options)))


def of(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def head(data: bytes, name: str = "x") -> Head:
    return Head(name, data, decode_head(data, sniff_bytes(data)))


def to_comma(data: bytes) -> bytes:
    """The same IIF written comma-separated, quoting cells that hold commas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in data.decode("cp1252").splitlines():
        writer.writerow(line.split("\t"))
    return out.getvalue().encode("cp1252")


# -- the reference ledger ---------------------------------------------------------


def test_reference_sample_reads_every_document_with_its_facts(tmp_path):
    items = parse_bytes(tmp_path, REFERENCE.read_bytes())
    assert of(items, Rejection) == [] and of(items, Note) == []
    first_record = next(
        i for i, x in enumerate(items) if isinstance(x, DocumentRecord | PaymentRecord)
    )
    assert isinstance(items[0], ExportInfo) and first_record > 0
    # HDR DATE 2025-06-30 with TIME 1751325120 (4:12 PM Pacific): naive UTC.
    assert items[0].as_of == datetime(2025, 6, 30, 23, 12)
    docs = {d.external_id: d for d in of(items, DocumentRecord)}
    assert sorted(k for k, d in docs.items() if d.kind == "invoice") == [
        f"10{n:02d}" for n in range(1, 15)
    ]
    assert sorted(k for k, d in docs.items() if d.kind == "credit_note") == [
        "CM-101",
        "CM-102",
        "CM-103",
    ]
    first = docs["1001"]
    assert (first.total, first.tax, first.subtotal) == (
        Decimal("2060.40"),
        Decimal("76.40"),
        Decimal("1984.00"),
    )
    assert (first.issue_date, first.due_date, first.paid_flag) == (
        date(2025, 3, 3),
        date(2025, 4, 2),
        True,
    )
    # Income lines are written negative; the customer sees positive lines.
    assert [(x.quantity, x.unit_price, x.amount) for x in first.lines] == [
        (Decimal("1"), Decimal("95.00"), Decimal("95.00")),
        (Decimal("4"), Decimal("125.00"), Decimal("500.00")),
        (Decimal("1"), Decimal("1389.00"), Decimal("1389.00")),
    ]
    assert docs["1003"].lines[0].quantity == Decimal("1.5")
    assert docs["1004"].paid_flag is None  # PAID=N: not fully paid, maybe partly
    assert (docs["1007"].lifecycle, docs["1007"].total) == ("void", Decimal("0.00"))
    assert all(d.balance is None for d in docs.values())
    cm = docs["CM-102"]
    assert (cm.total, cm.tax, cm.lines[0].amount) == (
        Decimal("51.70"),
        Decimal("2.70"),
        Decimal("49.00"),
    )
    pays = of(items, PaymentRecord)
    assert len(pays) == 8
    split = next(p for p in pays if p.reference == "20931")
    assert (split.external_id, split.amount, split.method, split.unapplied) == (
        "1225",
        Decimal("1000.00"),
        "Check",
        None,
    )
    assert all(p.allocations == [] for p in pays)


def test_customer_list_gives_accounts_with_email_and_exact_cp1252_names(tmp_path):
    accounts = of(parse_bytes(tmp_path, REFERENCE.read_bytes()), AccountRecord)
    by_name = {a.name: a for a in accounts}
    assert by_name["Bayview Café"].email == "owner@bayviewcafe.example"
    assert len(by_name) == 7


# -- detection ----------------------------------------------------------------------

OTHER_FORMAT_HEADS = {
    "qbo_invoice_list.csv": b'Harbor Plumbing & Heating,,,,\nInvoice List,,,,\n"March 1 - June 30, 2025",,,,\n,,,,\n,Date,Transaction Type,Num,Customer,Amount\n',
    "qbo_api_invoices.json": b'{\n  "BatchItemResponse": [\n    {\n      "QueryResponse": {\n',
    "xero_api_invoices.json": b'{\n  "Id": "64204e15",\n  "Status": "OK",\n  "Invoices": [\n',
    "xero_sales_invoices.csv": b"ContactName,EmailAddress,POAddressLine1,InvoiceNumber,InvoiceDate,Total\n",
    "generic_invoices.csv": b"record_type,number,customer_name,issue_date,total\ninvoice,1,A,2025-01-01,5\n",
}


def test_detects_tab_comma_and_list_only_iif():
    assert QuickBooksIif.detect(head(REFERENCE.read_bytes()))
    assert QuickBooksIif.detect(head(COMMA_JOBS.read_bytes()))
    assert QuickBooksIif.detect(head(b"\r\n!CUST\tNAME\tEMAIL\r\nCUST\tA\ta@x\r\n"))
    assert QuickBooksIif.detect(head(b'"!ACCNT","NAME"\nACCNT,Sales\n'))


@pytest.mark.parametrize("name", sorted(OTHER_FORMAT_HEADS))
def test_leaves_other_formats_alone(name):
    assert not QuickBooksIif.detect(head(OTHER_FORMAT_HEADS[name], name))


def test_not_claimed_by_generic_csv_and_only_by_this_adapter():
    for path in sorted(FOLDER.glob("*.iif")):
        data = path.read_bytes()
        assert not GenericCsv.detect(head(data)), path
        assert detect_adapter(head(data)).name == "quickbooks_iif"
    comma = to_comma(REFERENCE.read_bytes())
    assert not GenericCsv.detect(head(comma))
    transactions_first = to_comma(iif(*invoice()))
    assert not GenericCsv.detect(head(transactions_first))
    assert not QuickBooksIif.detect(head(b"!important,notes\nhello\n"))
    assert not QuickBooksIif.detect(head(b"\x89PNG\r\n\x1a\n\x00\x00"))


# -- layouts ------------------------------------------------------------------------


def test_comma_separated_iif_reads_the_same_as_tab_separated(tmp_path):
    tab = REFERENCE.read_bytes()
    assert to_comma(tab).count(b'"') > 0  # cells with commas got quoted
    assert parse_bytes(tmp_path, to_comma(tab)) == parse_bytes(tmp_path, tab)


def test_cells_with_commas_stay_whole_in_a_tab_file(tmp_path):
    data = iif(*invoice(name="Beaulieu, François", memo="Labor, parts, and tax"))
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert (doc.account.name, doc.memo) == (
        "Beaulieu, François",
        "Labor, parts, and tax",
    )


def test_quoted_whole_cells_in_a_tab_file_lose_their_quotes(tmp_path):
    data = iif(*invoice(name='"O\'Malley, Pat"', memo='5" pipe'))
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert (doc.account.name, doc.memo) == ("O'Malley, Pat", '5" pipe')


def test_columns_are_found_by_name_in_any_order(tmp_path):
    data = (
        b"!TRNS\tAMOUNT\tNAME\tDOCNUM\tDATE\tTRNSTYPE\r\n"
        b"!SPL\tMEMO\tAMOUNT\r\n"
        b"TRNS\t42.00\tJenna Alvarez\t77\t1/30/94\tINVOICE\r\n"
        b"SPL\tLabor\t-42.00\r\n"
        b"ENDTRNS\r\n"
    )
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    # Intuit's own example date: 2-digit years 70-99 are 19xx.
    assert (doc.number, doc.total, doc.issue_date) == (
        "77",
        Decimal("42.00"),
        date(1994, 1, 30),
    )


def test_cut_last_customer_row_is_rejected_not_imported_under_a_cut_name(tmp_path):
    data = b"!CUST\tNAME\tBADDR1\tEMAIL\r\nCUST\tPinecrest HOA\t1 Pinecrest Dr\tt@p.example\r\nCUST\tLighthouse Laun"
    items = parse_bytes(tmp_path, data)
    assert [a.name for a in of(items, AccountRecord)] == ["Pinecrest HOA"]
    [r] = of(items, Rejection)
    assert (r.line, "truncated" in r.reason) == (3, True)


# -- one transaction is one unit ----------------------------------------------------


def test_unbalanced_transaction_is_rejected_alone(tmp_path):
    data = iif(*invoice("1"), *invoice("2", spl_amount="-99.00"), *invoice("3"))
    items = parse_bytes(tmp_path, data)
    assert [d.number for d in of(items, DocumentRecord)] == ["1", "3"]
    [r] = of(items, Rejection)
    assert (r.line, r.record, r.column) == (7, "invoice 2", "AMOUNT")
    assert "add up to 1.00" in r.reason


def test_an_empty_split_row_is_skipped_with_a_note_not_a_rejection(tmp_path):
    """Some open-source IIF writers end a transaction with `SPL<tab>id` and nothing else."""
    first = invoice("1", "Maple Street Dental", "120.00")
    first.insert(2, "SPL\t7")  # before ENDTRNS: an id, no amount, no account
    second = invoice("2", "Bayview Café", "80.00")
    second.insert(2, "SPL")
    items = parse_bytes(tmp_path, iif(*first, *second, *invoice("3")))
    assert of(items, Rejection) == []
    docs = of(items, DocumentRecord)
    assert [(d.number, d.total) for d in docs] == [
        ("1", Decimal("120.00")),
        ("2", Decimal("80.00")),
        ("3", Decimal("100.00")),
    ]
    [note] = [n for n in of(items, Note) if "empty SPL" in n.message]
    assert note.message.startswith("skipped 2 empty SPL row(s)")
    assert note.message.endswith("first on line 6")
    # A split with an account but no amount still rejects its transaction.
    half = invoice("4")
    half.insert(2, "SPL\t\tINVOICE\t3/3/2025\tServices\t\t\t\t\t\t\t\t")
    [r] = of(parse_bytes(tmp_path, iif(*half)), Rejection)
    assert r.record == "invoice 4"


def test_transaction_without_endtrns_is_rejected_and_the_next_one_imports(tmp_path):
    rows = [*invoice("1")[:2], *invoice("2")]  # the first ENDTRNS is missing
    items = parse_bytes(tmp_path, iif(*rows))
    assert [d.number for d in of(items, DocumentRecord)] == ["2"]
    [r] = of(items, Rejection)
    assert (r.line, r.record) == (4, "invoice 1")
    assert "before line 6" in r.reason


def test_truncated_file_rejects_only_its_last_transaction(tmp_path):
    data = REFERENCE.read_bytes()
    cut = data[: data.rindex(b"Accounts Receivable\tOakridge")]
    items = parse_bytes(tmp_path, cut)
    assert len(of(items, PaymentRecord)) == 7
    assert len(of(items, DocumentRecord)) == 17
    [r] = of(items, Rejection)
    assert r.line == 108 and "file ends first" in r.reason


def test_row_shorter_than_its_amount_column_rejects_the_transaction(tmp_path):
    short = "TRNS\t\tINVOICE\t3/3/2025\tAccounts Receivable\tMaple Street Dental"
    items = parse_bytes(tmp_path, iif(short, *invoice("1")[1:], *invoice("2")))
    assert [d.number for d in of(items, DocumentRecord)] == ["2"]
    [r] = of(items, Rejection)
    assert (r.line, r.column) == (4, "AMOUNT")
    assert "found 6 on line 4" in r.reason


def test_row_longer_than_its_header_rejects_the_transaction(tmp_path):
    rows = invoice("1")
    rows[1] += "\tstray"
    [r] = of(parse_bytes(tmp_path, iif(*rows)), Rejection)
    assert "stray separator" in r.reason and r.line == 4


@pytest.mark.parametrize(
    ("rows", "column", "value"),
    [
        (invoice(amount="N/A", spl_amount="-100.00"), "AMOUNT", "N/A"),
        (invoice(spl_amount="-1OO.00"), "AMOUNT", "-1OO.00"),
        (invoice(when="2/30/2025"), "DATE", "2/30/2025"),
        (invoice(when=""), "DATE", ""),
        (invoice(name=" "), "NAME", " "),
        (invoice(number=""), "DOCNUM", ""),
        (invoice(paid="maybe"), "PAID", "maybe"),
        (invoice(kind="INVOCE"), "TRNSTYPE", "INVOCE"),
    ],
)
def test_unreadable_cells_reject_their_transaction(tmp_path, rows, column, value):
    items = parse_bytes(tmp_path, iif(*rows, *invoice("2")))
    assert [d.number for d in of(items, DocumentRecord)] == ["2"]
    [r] = of(items, Rejection)
    assert (r.line, r.column, r.value) == (4, column, value)
    assert r.reason.startswith("expected ")


def test_bad_amount_on_a_split_row_names_that_row(tmp_path):
    [r] = of(parse_bytes(tmp_path, iif(*invoice(spl_amount="-1OO.00"))), Rejection)
    assert "SPL row on line 5" in r.reason and r.line == 4


def test_spl_rows_without_their_trns_are_one_rejection(tmp_path):
    rows = [*invoice("1"), *invoice("2")[1:], *invoice("2")[1:], *invoice("3")]
    items = parse_bytes(tmp_path, iif(*rows))
    assert [d.number for d in of(items, DocumentRecord)] == ["1", "3"]
    assert [r.line for r in of(items, Rejection)] == [7, 9]


# -- signs, voids, flags ------------------------------------------------------------


def test_direction_comes_from_the_type_never_from_the_sign(tmp_path):
    negative_invoice = invoice("1", amount="-50.00")
    positive_credit = invoice("CM-1", amount="50.00", kind="CREDIT MEMO")
    items = parse_bytes(tmp_path, iif(*negative_invoice, *positive_credit))
    assert of(items, DocumentRecord) == []
    reasons = [r.reason for r in of(items, Rejection)]
    assert "a positive AMOUNT on the TRNS row of an INVOICE" in reasons[0]
    assert "a negative AMOUNT" in reasons[1]


def test_a_payment_written_from_the_ar_side_is_still_money_received(tmp_path):
    rows = [
        "TRNS\t\tPAYMENT\t4/7/2025\tAccounts Receivable\tOakridge\t-625.00\tACH-1\t\t\t\tACH",
        "SPL\t\tPAYMENT\t4/7/2025\tUndeposited Funds\tOakridge\t625.00\tACH-1\t\t\t\t\t",
        "ENDTRNS",
    ]
    [p] = of(parse_bytes(tmp_path, iif(*rows)), PaymentRecord)
    assert (p.amount, p.method) == (Decimal("625.00"), "ACH")


def test_void_invoice_and_void_payment(tmp_path):
    rows = [
        *invoice("1007", amount="0.00", memo="VOID: Issued in error"),
        *invoice("1008", amount="0.00", memo="No charge - warranty"),
        *payment("Bayview Café", "0.00", "1190"),
    ]
    rows[-3] = rows[-3].replace("Payment received", "VOID: NSF cheque")
    items = parse_bytes(tmp_path, iif(*rows))
    void, free = of(items, DocumentRecord)
    assert (void.lifecycle, free.lifecycle, free.total) == (
        "void",
        "issued",
        Decimal("0.00"),
    )
    [p] = of(items, PaymentRecord)
    assert (p.lifecycle, p.amount) == ("void", Decimal("0.00"))


def test_paid_flag_y_is_paid_n_and_blank_are_unknown(tmp_path):
    rows = [*invoice("1", paid="Y"), *invoice("2", paid="N"), *invoice("3", paid="")]
    flags = [d.paid_flag for d in of(parse_bytes(tmp_path, iif(*rows)), DocumentRecord)]
    assert flags == [True, None, None]


def test_tax_line_found_by_autostax_or_by_the_tax_account(tmp_path):
    rows = [
        "TRNS\t\tINVOICE\t3/3/2025\tAccounts Receivable\tA\t105.50\t1\t\t\tN\t",
        "SPL\t\tINVOICE\t3/3/2025\tMaterials Income\t\t-100.00\t\tPump\t-1\t100.00\tParts\t",
        "SPL\t\tINVOICE\t3/3/2025\tSales Tax Payable\tMaine Revenue Services\t-5.50\t\tME Sales Tax\t\t5.5%\tME Tax\t",
        "ENDTRNS",
    ]
    [doc] = of(parse_bytes(tmp_path, iif(*rows)), DocumentRecord)
    assert (doc.subtotal, doc.tax, len(doc.lines)) == (
        Decimal("100.00"),
        Decimal("5.50"),
        1,
    )


def test_invoice_without_a_tax_line_has_unknown_tax(tmp_path):
    [doc] = of(parse_bytes(tmp_path, iif(*invoice())), DocumentRecord)
    assert (doc.tax, doc.subtotal) == (None, None)


def test_cash_sale_is_an_invoice_paid_by_an_equal_payment(tmp_path):
    rows = [
        "TRNS\t\tCASH SALE\t7/15/2025\tUndeposited Funds\tBeaulieu, François\t95.00\t3001\t\t\t\tVisa",
        "SPL\t\tCASH SALE\t7/15/2025\tServices\t\t-95.00\t\tService call\t-1\t95.00\tService Call\t",
        "ENDTRNS",
        *invoice("3001", name="Beaulieu, François"),
    ]
    items = parse_bytes(tmp_path, iif(*rows))
    sale, same_number = of(items, DocumentRecord)
    [cash] = of(items, PaymentRecord)
    # Named on its copy and statement as what it is.
    assert (sale.document_type, same_number.document_type) == ("sales_receipt", None)
    # Sales receipts are numbered apart from invoices: both 3001s are kept.
    assert (sale.external_id, sale.number, same_number.external_id) == (
        "cash sale 3001",
        "3001",
        "3001",
    )
    assert (sale.paid_flag, sale.balance, sale.amount_paid) == (
        True,
        Decimal(0),
        Decimal("95.00"),
    )
    assert (cash.amount, cash.method, cash.unapplied) == (
        Decimal("95.00"),
        "Visa",
        Decimal(0),
    )
    # No allocation: the sale says it is paid, and an allocation would make the
    # engine treat this source's allocations as complete (every invoice unpaid).
    assert cash.allocations == []


def test_cash_sale_without_a_customer_is_a_note(tmp_path):
    rows = [
        "TRNS\t\tCASH SALE\t7/15/2025\tUndeposited Funds\t\t20.00\t3002\t\t\t\tCash",
        "SPL\t\tCASH SALE\t7/15/2025\tMaterials Income\t\t-20.00\t\tWasher\t-1\t20.00\tParts\t",
        "ENDTRNS",
    ]
    items = parse_bytes(tmp_path, iif(*rows))
    assert [type(i).__name__ for i in items] == ["Note"]
    assert "cash sale 3002" in items[0].message and items[0].line == 4


def test_non_customer_transactions_become_one_note_per_type(tmp_path):
    bill = [
        "TRNS\t\tBILL\t3/5/2025\tAccounts Payable\tFerguson Supply\t-400.00\tB-1\t\t\t\t",
        "SPL\t\tBILL\t3/5/2025\tCost of Goods Sold\t\t400.00\t\t\t\t\t\t",
        "ENDTRNS",
    ]
    check = [line.replace("BILL", "CHECK") for line in bill]
    rows = [*bill, *bill, *check, *invoice("1")]
    items = parse_bytes(tmp_path, iif(*rows))
    assert [d.number for d in of(items, DocumentRecord)] == ["1"]
    assert of(items, Rejection) == []
    assert [n.message.split(";")[0] for n in of(items, Note)] == [
        "skipped 2 BILL transaction(s) (not customer invoices, credit memos or payments)",
        "skipped 1 CHECK transaction(s) (not customer invoices, credit memos or payments)",
    ]


# -- names and ids ------------------------------------------------------------------


def test_jobs_become_sites_under_their_parents(tmp_path):
    items = parse_bytes(
        tmp_path, iif(*invoice(name="Oakridge Property Management:45 Park Ave:Unit 2"))
    )
    parent, doc = items[0], of(items, DocumentRecord)[0]
    assert isinstance(parent, AccountRecord)
    assert (parent.key, parent.parent_key) == (
        "Oakridge Property Management:45 Park Ave",
        "Oakridge Property Management",
    )
    assert (doc.account.name, doc.account.parent_key) == (
        "Unit 2",
        "Oakridge Property Management:45 Park Ave",
    )


def test_payment_ids_use_trnsid_else_customer_reference_and_date(tmp_path):
    rows = [
        *payment("Okafor", "50.00", "", when="5/5/2025"),
        *payment("Okafor", "50.00", "", when="5/5/2025"),
        *payment("Okafor", "288.81", "5520", when="5/5/2025"),
        *payment("Okafor", "10.00", "5521", trnsid="1214"),
    ]
    ids = [p.external_id for p in of(parse_bytes(tmp_path, iif(*rows)), PaymentRecord)]
    # Two cash payments on one day are two payments, not one seen twice.
    assert ids == [
        "Okafor//2025-05-05",
        "Okafor//2025-05-05/2",
        "Okafor/5520/2025-05-05",
        "1214",
    ]


# -- dates --------------------------------------------------------------------------


def test_ambiguous_dates_are_month_first_unless_configured(tmp_path):
    data = iif(*invoice(when="3/4/2025"))
    [doc] = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert doc.issue_date == date(2025, 3, 4)
    [doc] = of(parse_bytes(tmp_path, data, date_order="DMY"), DocumentRecord)
    assert doc.issue_date == date(2025, 4, 3)


def test_day_first_file_is_read_day_first(tmp_path):
    data = iif(*invoice("1", when="25/03/2025"), *invoice("2", when="04/03/25"))
    docs = of(parse_bytes(tmp_path, data), DocumentRecord)
    assert [d.issue_date for d in docs] == [date(2025, 3, 25), date(2025, 3, 4)]


def test_a_file_proving_both_date_orders_is_refused(tmp_path):
    data = iif(*invoice("1", when="25/03/2025"), *invoice("2", when="03/26/2025"))
    with pytest.raises(FileRejected, match="contradict"):
        parse_bytes(tmp_path, data)


def test_export_date_without_time_is_midnight(tmp_path):
    data = b"!HDR\tPROD\tDATE\r\nHDR\tQB\t2025-07-31\r\n" + iif(*invoice())
    [info] = of(parse_bytes(tmp_path, data), ExportInfo)
    assert (info.as_of, info.description) == (datetime(2025, 7, 31), "QB")


# -- whole-file refusals ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"\r\n\r\n", "empty"),
        (b"TRNS\t\tINVOICE\r\n", "first row names its columns"),
        (b"!CUST\tNAME\r\nTRNS\tINVOICE\r\n", "before any !TRNS"),
        (b"!TRNS\tTRNSTYPE\tDATE\tNAME\r\n", "lacks column"),
        (b"!TRNS\tTRNSTYPE\tDATE\tAMOUNT\tAMOUNT\r\n", "AMOUNT twice"),
        (b"!CUST\tEMAIL\r\n", "lacks column"),
    ],
)
def test_files_that_are_not_readable_iif_are_refused_whole(tmp_path, data, match):
    with pytest.raises(FileRejected, match=match):
        parse_bytes(tmp_path, data)


# -- robustness (hypothesis) --------------------------------------------------------

SAMPLE_BYTES = REFERENCE.read_bytes()


def _shuffle_block(lines: list[str], keyword: str, order: list[int]) -> list[str]:
    out = []
    for line in lines:
        cells = line.split("\t")
        if cells[0] in (keyword, "!" + keyword):
            cells = [
                cells[0],
                *(cells[1:][i] if i < len(cells) - 1 else "" for i in order),
            ]
        out.append("\t".join(cells))
    return out


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    trns=st.permutations(range(22)),
    spl=st.permutations(range(19)),
)
def test_shuffled_columns_give_the_same_records(tmp_path, trns, spl):
    lines = SAMPLE_BYTES.decode("cp1252").split("\r\n")
    lines = _shuffle_block(_shuffle_block(lines, "TRNS", trns), "SPL", spl)
    shuffled = "\r\n".join(lines).encode("cp1252")
    assert parse_bytes(tmp_path, shuffled) == parse_bytes(tmp_path, SAMPLE_BYTES)


# -- through the pipeline -----------------------------------------------------------

# FORMATS.md section 10, as far as IIF can tell: billed, cash paid, credit-note totals
# and net; balance due only where every invoice is PAID=Y (or void); remaining credit
# and unapplied cash never. (invoices, voids, billed, paid, balance due, credit notes,
# remaining credit, unapplied, net)
EXPECTED = {
    "Maple Street Dental": (2, 0, "2510.40", "2260.40", None, "0.00", "0.00", None, "250.00"),
    "Oakridge Property Management": (3, 0, "1906.15", "1625.00", None, "0.00", "0.00", None, "281.15"),
    "Jenna Alvarez": (2, 0, "730.52", "205.62", None, "0.00", "0.00", None, "524.90"),
    "Bayview Café": (2, 0, "1108.20", "300.00", None, "0.00", "0.00", None, "808.20"),
    "Thomas & Rita Okafor": (2, 0, "943.80", "288.81", None, "50.00", None, None, "604.99"),
    "Pinecrest HOA": (1, 1, "650.00", "650.00", "0.00", "75.00", None, None, "-75.00"),
    # No payment from Lighthouse in a file that records payments: cash paid is 0.00.
    "Lighthouse Laundromat": (1, 0, "1159.34", "0.00", None, "51.70", None, "0.00", "1107.64"),
}  # fmt: skip
FIELDS = (
    "invoice_count", "void_invoice_count", "total_billed", "total_paid", "balance_due",
    "credit_note_total", "remaining_credit", "unapplied_payments", "net_balance",
)  # fmt: skip


def test_reference_sample_reproduces_the_figures_iif_can_tell(store, settings):
    result = run_import(store, settings, REFERENCE)
    assert (result.status, result.adapter, result.rejected, result.warnings) == (
        "applied",
        "quickbooks_iif",
        [],
        [],
    )
    got = balances_by_account(store)
    assert set(got) == {f"{name}|USD" for name in EXPECTED}
    for name, expected in EXPECTED.items():
        assert tuple(got[f"{name}|USD"][f] for f in FIELDS) == expected, name
    # Lighthouse's 0.00 paid is a fact of the file (no payment rows), not a default.
    assert (
        count(
            store,
            "payment p JOIN account a ON a.id = p.account_id",
            "a.name = 'Lighthouse Laundromat'",
        )
        == 0
    )


def test_per_invoice_status_follows_the_paid_flag(store, settings):
    run_import(store, settings, REFERENCE)
    with store.read() as conn:
        rows = {
            r.number: (r.total_minor, r.balance_minor, r.status)
            for r in conn.execute(text("SELECT * FROM invoice"))
        }
    assert rows["1001"] == (206040, 0, "paid")
    assert rows["1004"] == (72820, None, "unknown")  # PAID=N after 300.00 of 728.20
    assert rows["1007"] == (0, 0, "void")
    assert rows["1010"] == (115934, None, "unknown")
    with store.read() as conn:
        cn = conn.execute(
            text(
                "SELECT remaining_minor, status FROM credit_note WHERE number = 'CM-103'"
            )
        ).one()
    assert tuple(cn) == (None, "unknown")


def test_reimporting_a_re_saved_copy_changes_nothing(store, settings, tmp_path):
    first = run_import(store, settings, REFERENCE)
    again = run_import(store, settings, REFERENCE)
    assert again.status == "duplicate"
    resaved = tmp_path / "resaved.iif"
    resaved.write_bytes(REFERENCE.read_bytes().replace(b"\r\n", b"\n"))
    third = run_import(store, settings, resaved)
    assert (third.status, third.created, third.updated, third.unchanged) == (
        "applied",
        0,
        0,
        first.created,
    )


def test_cp1252_names_reach_the_store_exactly(store, settings):
    run_import(store, settings, MESSY)
    with store.read() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM account"))}
    assert {"Seán O’Brien", "Bayview Café"} <= names


def test_jobs_file_balances_per_site(store, settings):
    result = run_import(store, settings, COMMA_JOBS)
    assert result.rejected == []
    got = balances_by_account(store)
    elm = got["12 Elm St|USD"]
    assert (
        elm["parent"],
        elm["total_billed"],
        elm["total_paid"],
        elm["net_balance"],
    ) == (
        "Oakridge Property Management",
        "410.78",
        "250.00",
        "120.78",
    )
    sale = got["Beaulieu, François|USD"]
    assert (sale["total_paid"], sale["balance_due"], sale["net_balance"]) == (
        "158.30",
        "0.00",
        "0.00",
    )
    # A cash sale in the file must not turn the other invoices' flags into "unpaid".
    unit = got["Unit 2|USD"]
    assert (unit["parent"], unit["balance_due"]) == ("45 Park Ave", "0.00")
    assert (elm["balance_due"], elm["remaining_credit"]) == (None, None)
