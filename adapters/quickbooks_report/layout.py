"""Which QuickBooks report a file is: its columns, title rows and header.

Every report has preamble rows (company, title, period; in any order) and a header row
whose first cell is empty, with a date and a number column. The title says which
report it is; a report exported without its title rows is told by its columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from adapters.errors import FileRejected
from adapters.toolkit.cells import cell_text
from adapters.toolkit.columns import Column, Columns, normalise_header
from adapters.toolkit.csv_rows import Row
from adapters.toolkit.table import Table

# The memo and customer columns come before the rest so that the billfold fields they
# fill are named in this order (the synonyms of different columns never overlap).
COLUMNS = Columns(
    Column("date", ("transactiondate", "txndate", "date"), "date"),
    Column("type", ("transactiontype", "txntype", "type")),
    Column(
        "number",
        ("num", "no", "number", "docnum", "docnumber", "refno"),
        fields=("number", "payment.reference"),
    ),
    Column("memo", ("memodescription", "memo", "description"), fields=("memo",)),
    Column(
        "customer",
        ("customer", "name", "customerfullname", "customername"),
        fields=("customer_name", "customer_id"),
    ),
    Column("due_date", ("duedate",), "date"),
    Column("amount", ("amount", "totalamount"), "amount"),
    Column("open_balance", ("openbalance",), "amount"),
    # Customer Balance Detail's running total per customer; never a document's balance.
    Column("running_balance", ("balance",), "amount"),
    Column("posting", ("posting",)),
    Column("currency", ("currency",)),
)
DATE_HEADERS = frozenset(("date", "transactiondate", "txndate"))
NUMBER_HEADERS = frozenset(("num", "no", "number", "docnum", "docnumber"))
# Headers only a QuickBooks report has; with the empty first header cell they tell a
# report from any other CSV when its title rows were not exported.
REPORT_HEADERS = frozenset(
    ("transactiontype", "openbalance", "posting", "memodescription", "pastdue")
)
# Columns of line-item reports (Sales by Customer Detail, ledgers): one row is not one
# document there, so their amounts must not be read as document totals.
LINE_ITEM_HEADERS = frozenset(
    ("qty", "quantity", "salesprice", "rate", "productservice", "item", "debit",
     "credit", "split")
)  # fmt: skip

TITLES = {
    "invoicelist": ("Invoice List", "invoice_list"),
    "transactionlistbycustomer": ("Transaction List by Customer", "transaction_list"),
    "openinvoices": ("Open Invoices", "open_items"),
    "aragingdetail": ("A/R Aging Detail", "open_items"),
    "arageingdetail": ("A/R Ageing Detail", "open_items"),
    "accountsreceivableagingdetail": ("A/R Aging Detail", "open_items"),
    "accountsreceivableageingdetail": ("A/R Ageing Detail", "open_items"),
    "customerbalancedetail": ("Customer Balance Detail", "open_items"),
}  # fmt: skip
REPORT_NAMES = (
    "Invoice List, Transaction List by Customer, Open Invoices, A/R Aging Detail or "
    "Customer Balance Detail"
)
MAX_PREAMBLE_ROWS = 20
NO_HEADER = (
    "expected a QuickBooks report: a header row whose first cell is empty, with "
    f"'Date' and 'Num' columns, within the first {MAX_PREAMBLE_ROWS} rows"
)

THOUSANDS = re.compile(
    r"\bin\s+thousands\b|\bdivided?\s+by\s+1,?000\b|÷\s*1,?000\b|\(\s*\$?\s*000'?s\s*\)",
    re.IGNORECASE,
)
DIVIDED = (
    "amounts in dollars, but this report says its amounts are divided by 1000 "
    "({marker!r}). In QuickBooks open the report, choose Customize > General > Number "
    "format, clear 'Divide by 1000' and 'Without cents', run the report and export it "
    "again"
)


def is_header(cells: Sequence[str]) -> bool:
    """A report's header: an empty first cell, a date column and a number column."""
    if not cells or cells[0].replace("\ufeff", "").strip():
        return False
    names = {normalise_header(c) for c in cells[1:]}
    return bool(names & DATE_HEADERS) and bool(names & NUMBER_HEADERS)


def refuse_divided(texts: Sequence[str], line: int) -> None:
    """Refuse a report whose title or header says it is divided by 1000."""
    for text in texts:
        marker = THOUSANDS.search(text)
        if marker:
            raise FileRejected(DIVIDED.format(marker=marker.group(0)), line=line)


def report_kind(table: Table) -> tuple[str, str]:
    """Return the report's (title, kind) and check it has the columns that kind needs.

    The kind is ``invoice_list``, ``transaction_list`` or ``open_items``.
    """
    line = table.header.line
    header = [table.header.text(i) for i in range(table.width)]
    names = {normalise_header(h) for h in header}
    titles = [
        TITLES[normalise_header(t)]
        for t in table.preamble
        if normalise_header(t) in TITLES
    ]
    if titles:
        title, kind = titles[0]
    elif table.preamble:
        shown = "; ".join(repr(t) for t in table.preamble)
        raise FileRejected(
            f"expected one of the QuickBooks reports {REPORT_NAMES}; this report's "
            f"title rows are {shown}. Export one of those reports and keep the title "
            "QuickBooks gives it",
            line=line,
        )
    else:
        title, kind = _kind_from_columns(table.columns, names, line)
    _require(kind, title, table.columns, header, line)
    return title, kind


def _kind_from_columns(
    columns: dict[str, int], names: set[str], line: int
) -> tuple[str, str]:
    if not names & REPORT_HEADERS:
        raise FileRejected(
            f"expected a QuickBooks report ({REPORT_NAMES}); the file has no title rows "
            "and none of the columns only QuickBooks reports have (Transaction Type, "
            "Open Balance, Posting, Memo/Description)",
            line=line,
        )
    if names & LINE_ITEM_HEADERS:
        raise FileRejected(
            "expected one row per transaction, but this report has line-item columns "
            f"({', '.join(sorted(names & LINE_ITEM_HEADERS))}); export {REPORT_NAMES}",
            line=line,
        )
    if "open_balance" not in columns:
        return "Transaction List by Customer", "transaction_list"
    if "customer" in columns:
        return "Invoice List", "invoice_list"
    return "Open Invoices", "open_items"


def _require(
    kind: str, title: str, columns: dict[str, int], header: list[str], line: int
) -> None:
    needed = ["date", "number", "amount"]
    if kind != "invoice_list":
        needed.append("type")
    if kind == "open_items":
        needed.append("open_balance")
    missing = [c for c in needed if c not in columns]
    if not missing:
        return
    labels = {
        "date": "Date", "number": "Num", "amount": "Amount",
        "type": "Transaction Type", "open_balance": "Open Balance",
    }  # fmt: skip
    extra = (
        " ('Balance' is a running total per customer, not what a document still owes)"
        if "open_balance" in missing
        else ""
    )
    raise FileRejected(
        f"expected the column(s) {', '.join(labels[c] for c in missing)} in the "
        f"{title} report{extra}; the header has "
        f"{', '.join(repr(h) for h in header if h.strip())}. Add them under Customize > "
        "Rows/Columns and export again",
        line=line,
    )


def row_label(row: Row) -> str:
    """A row's first cell: empty on data rows, a name or ``Total for …`` otherwise."""
    return row.text(0).replace("\ufeff", "").strip()


def rest_blank(row: Row) -> bool:
    """True when nothing but the first cell holds text (a customer group row)."""
    return not any(cell_text(c).strip() for c in row.cells[1:])
