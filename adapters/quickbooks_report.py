"""QuickBooks Online report exports, CSV or Excel (FORMATS.md section 3).

Four reports are read: Invoice List, Transaction List by Customer, Open Invoices /
A/R Aging Detail, and Customer Balance Detail. All share one dialect: preamble rows
(company, title, period; in any order), a header row whose first cell is empty,
customer group rows (a name and nothing else), data rows whose first cell is empty,
``Total for <group>`` and ``TOTAL`` rows, and as the last row a footer such as
``Accrual Basis Monday, June 30, 2025 04:12 PM GMT-07:00``. "Export to Excel" gives the
same rows as typed cells (numbers, real dates), read as values, never as display text.

A file is read in streaming passes: the first rows (preamble and header), the tail
(the footer's timestamp, yielded as ``ExportInfo`` before any record), a survey of every
row (day/month order, whether amounts carry cents, how customer groups nest), then
the records. Total rows are checks, never data.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import warnings
import zipfile
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from adapters.base import ExportFile, Head, ParseOptions
from adapters.cells import AMOUNT_EXPECTED, DATE_EXPECTED, FileDates, parse_amount
from adapters.columns import map_columns, nfc_key, normalise_header
from adapters.csv_rows import read_rows
from adapters.errors import CellError, FileRejected
from adapters.keys import document_key
from adapters.quickbooks_names import quickbooks_account, quickbooks_ancestors
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    Note,
    PaymentRecord,
    Rejection,
)

SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": ("transactiondate", "txndate", "date"),
    "type": ("transactiontype", "txntype", "type"),
    "number": ("num", "no", "number", "docnum", "docnumber", "refno"),
    "customer": ("customer", "name", "customerfullname", "customername"),
    "memo": ("memodescription", "memo", "description"),
    "due_date": ("duedate",),
    "amount": ("amount", "totalamount"),
    "open_balance": ("openbalance",),
    # Customer Balance Detail's running total per customer; never a document's balance.
    "running_balance": ("balance",),
    "posting": ("posting",),
    "currency": ("currency",),
}  # fmt: skip
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

# Transaction types (normalised) and what billfold makes of them.
INVOICE, CREDIT_MEMO, PAYMENT, SALES_RECEIPT = (
    "invoice", "creditmemo", "payment", "salesreceipt",
)  # fmt: skip
NON_POSTING = frozenset(
    ("estimate", "delayedcharge", "delayedcredit", "purchaseorder", "salesorder")
)
REFUNDS = frozenset(("refund", "refundreceipt"))
# Reports carry no ids: a document is its type, number and customer (adapters.keys).
DOCUMENT_TYPES = {
    INVOICE: "Invoice", CREDIT_MEMO: "Credit Memo", SALES_RECEIPT: "Sales Receipt"
}  # fmt: skip
# The report's columns -> billfold's fields (schemas.limits), to name them in rejections.
FIELDS = (
    ("number", "number"), ("number", "payment.reference"), ("memo", "memo"),
    ("customer", "customer_name"), ("customer", "customer_id"),
)  # fmt: skip
MONEY_COLUMNS = ("amount", "open_balance", "running_balance")
CHECKED_COLUMNS = ("amount", "open_balance")  # running balances are not sums

MAX_PREAMBLE_ROWS = 20
TAIL_BYTES = 8192
MAX_XLSX_BYTES = 200 * 1024 * 1024
MAX_XLSX_RATIO = 100
MAX_XLSX_MEMBERS = 10_000
_SMALL_MEMBER = 1024 * 1024  # members this small cannot be a decompression bomb

_FOOTER = re.compile(r"^\s*(accrual|cash)\s+basis\b\s*(.*)$", re.IGNORECASE)
_STAMP = re.compile(
    r"^(?:[A-Za-z]+,\s*)?(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})"
    r"\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?"
    r"\s*(?P<zone>(?:GMT|UTC)\s*(?:(?P<sign>[+-])(?P<oh>\d{1,2}):?(?P<om>\d{2}))?)?\s*$"
)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"),
            ("apr", "april"), ("may",), ("jun", "june"), ("jul", "july"),
            ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
            ("nov", "november"), ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_THOUSANDS = re.compile(
    r"\bin\s+thousands\b|\bdivided?\s+by\s+1,?000\b|÷\s*1,?000\b|\(\s*\$?\s*000'?s\s*\)",
    re.IGNORECASE,
)
_DECIMALS = re.compile(r"\.\d")
_VOID_MEMO = re.compile(r"^\s*void(ed)?\b", re.IGNORECASE)
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')

WITHOUT_CENTS = (
    "amounts with cents, but every amount in this report is a whole number ({example}): "
    "it was exported 'Without cents' and the cents are lost. In QuickBooks open the "
    "report, choose Customize > General > Number format, clear 'Without cents' and "
    "'Divide by 1000', run the report and export it again (if the amounts really are "
    "whole dollars, export to CSV, which writes them as 625.00)"
)
DIVIDED = (
    "amounts in dollars, but this report says its amounts are divided by 1000 "
    "({marker!r}). In QuickBooks open the report, choose Customize > General > Number "
    "format, clear 'Divide by 1000' and 'Without cents', run the report and export it "
    "again"
)
ZERO_HIDDEN = (
    " (a blank cell means the report hides zero amounts: clear 'Except zero amount' "
    "under Customize > General > Number format and export again)"
)


@dataclass(frozen=True, slots=True)
class _Number:
    """A numeric Excel cell: its exact value and whether its format shows cents."""

    value: Decimal
    shows_cents: bool

    @property
    def text(self) -> str:
        return format(self.value.normalize(), "f")


Cell = str | _Number | date


def _text(cell: Cell) -> str:
    if isinstance(cell, str):
        return cell
    if isinstance(cell, _Number):
        return cell.text
    return cell.isoformat()


def _amount(cell: Cell) -> Decimal | None:
    if isinstance(cell, _Number):
        return cell.value
    if isinstance(cell, str):
        return parse_amount(cell)
    raise CellError(_text(cell), AMOUNT_EXPECTED + " (this cell holds a date)")


@dataclass(slots=True)
class _Row:
    """One row of the report: CSV text cells, or Excel cells as typed values."""

    line: int
    cells: list[Cell]
    at_eof: bool = False
    truncated: bool = False

    def get(self, index: int | None) -> Cell:
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]

    def text(self, index: int | None) -> str:
        return _text(self.get(index))

    @property
    def first(self) -> str:
        return self.text(0).replace("\ufeff", "").strip()

    @property
    def blank(self) -> bool:
        return not any(_text(c).strip() for c in self.cells)

    @property
    def rest_blank(self) -> bool:
        return not any(_text(c).strip() for c in self.cells[1:])

    def preview(self) -> str:
        text = ",".join(_text(c) for c in self.cells)
        return text if len(text) <= 80 else text[:77] + "..."


# -- sheets: CSV or Excel, the same rows ----------------------------------------------


class _CsvSheet:
    """A CSV report, streamed row by row; its tail is read with one seek."""

    is_csv = True

    def __init__(self, export: ExportFile) -> None:
        if export.encoding.codec is None:
            raise FileRejected(
                export.encoding.problem
                or "expected a CSV or Excel (.xlsx) QuickBooks report"
            )
        self.export = export
        self.ends_with_newline = True

    def rows(self) -> Iterator[_Row]:
        try:
            with self.export.open_text() as file:
                for r in read_rows(file):
                    yield _Row(r.line, list(r.cells), r.at_eof, r.truncated)
        except (UnicodeError, csv.Error) as exc:
            raise FileRejected(
                f"expected readable CSV text in {self.export.encoding.codec}: {exc}"
            ) from exc

    def tail(self) -> list[str] | None:
        """Return the cells of the last non-blank line (the footer, in a whole file)."""
        codec = self.export.encoding.codec or "utf-8"
        if codec == "utf-16":
            text = self._tail_by_reading()
        else:
            path = self.export.path
            with path.open("rb") as file:
                file.seek(max(0, path.stat().st_size - TAIL_BYTES))
                data = file.read()
            text = data.decode("utf-8" if codec == "utf-8-sig" else codec, "replace")
        self.ends_with_newline = text.endswith(("\n", "\r")) or not text
        for line in reversed(text.splitlines()):
            try:
                cells = next(csv.reader([line]), [])
            except csv.Error:
                return None
            if any(c.strip() for c in cells):
                return cells
        return None

    def _tail_by_reading(self) -> str:
        kept: deque[str] = deque(maxlen=4)
        with self.export.open_text() as file:
            while chunk := file.read(TAIL_BYTES):
                kept.append(chunk)
        return "".join(kept)


class _XlsxSheet:
    """The first worksheet of an Excel export, read with openpyxl in read-only mode."""

    is_csv = False
    ends_with_newline = True

    def __init__(self, export: ExportFile) -> None:
        _check_workbook_zip(export.path)
        self.path = export.path

    def tail(self) -> list[str] | None:
        return None  # a sheet cannot be read from its end; the survey finds the footer

    def rows(self) -> Iterator[_Row]:
        with self.path.open("rb") as file:
            workbook = _excel_call(_load_workbook, file)
            try:
                sheet = _excel_call(lambda: workbook.worksheets[0])
                _excel_call(sheet.reset_dimensions)  # trust the cells, not the header
                cells = _excel_call(sheet.iter_rows, min_row=1, min_col=1)
                line = 0
                while True:
                    try:
                        row = _excel_call(_next_row, cells)
                    except StopIteration:
                        return
                    line += 1
                    yield _Row(line, row)
            finally:
                with contextlib.suppress(Exception):
                    workbook.close()


def _next_row(cells: Iterator[Any]) -> list[Cell]:
    # Cell values and formats are looked up lazily, so a damaged workbook can fail here.
    return [_excel_cell(c) for c in next(cells)]


def _load_workbook(file: Any) -> Any:
    # A file object, not a path: the stored copy has no .xlsx suffix for openpyxl.
    return load_workbook(file, read_only=True, data_only=True)


def _excel_call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call into openpyxl, quietly, turning whatever it raises into FileRejected."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)
    except StopIteration:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise FileRejected(
            "expected an Excel workbook (.xlsx) QuickBooks can write, but it cannot be "
            f"read: {exc.__class__.__name__}: {exc}"[:300]
        ) from exc


def _check_workbook_zip(path: Path) -> None:
    """Refuse archives that are not workbooks or would inflate beyond sane limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception as exc:  # zipfile raises several types for damaged archives
        raise FileRejected(
            f"expected an Excel workbook (.xlsx), but the archive cannot be read: {exc}"
        ) from exc
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or not any(
        n.startswith("xl/") for n in names
    ):
        raise FileRejected(
            "expected an Excel workbook (.xlsx); this zip archive holds other files"
        )
    if len(members) > MAX_XLSX_MEMBERS:
        raise FileRejected(
            f"expected an Excel workbook of at most {MAX_XLSX_MEMBERS} parts; this one "
            f"has {len(members)}"
        )
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_BYTES:
        raise FileRejected(
            f"expected a workbook of at most {MAX_XLSX_BYTES // 2**20} MB unpacked; "
            f"this one unpacks to {total // 2**20} MB. Export a shorter period or use CSV"
        )
    for m in members:
        if m.file_size > _SMALL_MEMBER and m.file_size > MAX_XLSX_RATIO * max(
            m.compress_size, 1
        ):
            raise FileRejected(
                f"expected an ordinary workbook, but part {m.filename!r} unpacks "
                f"{m.file_size // max(m.compress_size, 1)} times larger than it is "
                "stored (a decompression bomb?)"
            )


def _shows_cents(number_format: str | None) -> bool:
    if not number_format:
        return False
    return bool(re.search(r"\.[0#?]", _FORMAT_LITERALS.sub("", number_format)))


def _excel_cell(cell: Any) -> Cell:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        exact = Decimal(str(value))
        if not exact.is_finite():
            return str(value)
        cents = exact != exact.to_integral_value()
        return _Number(
            exact, cents or _shows_cents(getattr(cell, "number_format", None))
        )
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date | str):
        return value
    return str(value)


# -- layout: preamble, header, which report ------------------------------------------


@dataclass(slots=True)
class _Layout:
    kind: str  # "invoice_list", "transaction_list" or "open_items"
    title: str
    preamble: list[str]
    header: list[str]
    header_line: int
    columns: dict[str, int]


def _is_header(cells: list[str]) -> bool:
    if not cells or cells[0].replace("\ufeff", "").strip():
        return False
    names = {normalise_header(c) for c in cells[1:]}
    return bool(names & DATE_HEADERS) and bool(names & NUMBER_HEADERS)


def _read_layout(rows: Iterator[_Row], options: ParseOptions) -> _Layout:
    preamble: list[str] = []
    for row in rows:
        if row.blank:
            continue
        cells = [_text(c) for c in row.cells]
        if _is_header(cells):
            return _layout(preamble, cells, row.line, options)
        preamble.append(" ".join(c.strip() for c in cells if c.strip()))
        if len(preamble) > MAX_PREAMBLE_ROWS:
            break
    raise FileRejected(
        "expected a QuickBooks report: a header row whose first cell is empty, with "
        f"'Date' and 'Num' columns, within the first {MAX_PREAMBLE_ROWS} rows"
    )


def _layout(
    preamble: list[str], header: list[str], line: int, options: ParseOptions
) -> _Layout:
    for text in [*preamble, *header]:
        marker = _THOUSANDS.search(text)
        if marker:
            raise FileRejected(DIVIDED.format(marker=marker.group(0)), line=line)
    columns, problems = map_columns(header, SYNONYMS, options.columns)
    if problems:
        raise FileRejected("; ".join(problems), line=line)
    names = {normalise_header(h) for h in header}
    titles = [
        TITLES[normalise_header(t)] for t in preamble if normalise_header(t) in TITLES
    ]
    if titles:
        title, kind = titles[0]
    elif preamble:
        shown = "; ".join(repr(t) for t in preamble)
        raise FileRejected(
            f"expected one of the QuickBooks reports {REPORT_NAMES}; this report's "
            f"title rows are {shown}. Export one of those reports and keep the title "
            "QuickBooks gives it",
            line=line,
        )
    else:
        title, kind = _kind_from_columns(columns, names, line)
    _require(kind, title, columns, header, line)
    return _Layout(kind, title, preamble, header, line, columns)


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


# -- survey: one pass over every row before any record -------------------------------


@dataclass(slots=True)
class _Survey:
    dates: FileDates
    cents: bool = False
    whole_example: tuple[int, str] | None = None
    nonzero: bool = False
    paths: dict[int, tuple[str, ...]] = field(default_factory=dict)
    flat: bool = False
    footer: str | None = None


def _survey(rows: Iterator[_Row], layout: _Layout, options: ParseOptions) -> _Survey:
    survey = _Survey(FileDates(options.date_order or "MDY"))
    date_columns = [layout.columns.get(c) for c in ("date", "due_date")]
    money_columns = [layout.columns[c] for c in MONEY_COLUMNS if c in layout.columns]
    stack: list[str] = []
    closes = 0
    stray: tuple[int, str] | None = None
    last = ""
    for row in rows:
        if row.line <= layout.header_line or row.blank:
            continue
        for index in money_columns:
            _survey_money(survey, row.get(index), row.line)
        first = row.first
        last = first
        if not first:
            for index in date_columns:
                cell = row.get(index)
                if isinstance(cell, str):
                    survey.dates.scan(cell, row.line)
            continue
        if _FOOTER.match(first):
            marker = _THOUSANDS.search(first)
            if marker:
                raise FileRejected(
                    DIVIDED.format(marker=marker.group(0)), line=row.line
                )
            continue
        if first.casefold() == "total":
            stack.clear()
        elif first.casefold().startswith("total for "):
            closes += 1
            name = nfc_key(first[len("total for ") :])
            if name in stack:
                del stack[stack.index(name) :]
            elif stray is None:
                stray = (row.line, first)
        elif row.rest_blank:
            label = nfc_key(first)
            survey.paths[row.line] = (*stack, label)
            stack.append(label)
    survey.footer = last or None
    survey.dates.settle()
    if survey.nonzero and not survey.cents:
        line, example = survey.whole_example or (None, "")
        raise FileRejected(
            WITHOUT_CENTS.format(example=f"{example!r} on line {line}"), line=line
        )
    if survey.paths and closes == 0:
        survey.flat = True  # groups without subtotals cannot nest: each stands alone
    elif stray is not None and "customer" not in layout.columns:
        line, text = stray
        raise FileRejected(
            f"expected each 'Total for' row to close a customer group above it, but "
            f"{text!r} closes none, so which customer a row belongs to is unclear",
            line=line,
        )
    return survey


def _survey_money(survey: _Survey, cell: Cell, line: int) -> None:
    if isinstance(cell, _Number):
        value, cents, text = cell.value, cell.shows_cents, cell.text
    elif isinstance(cell, str) and cell.strip():
        try:
            value = parse_amount(cell)
        except CellError:
            return
        cents, text = bool(_DECIMALS.search(cell)), cell.strip()
    else:
        return
    if cents:
        survey.cents = True
    elif value:
        survey.nonzero = True
        if survey.whole_example is None:
            survey.whole_example = (line, text)


# -- footer: when the report was run ---------------------------------------------------


def _export_info(footer: str | None, layout: _Layout) -> Iterator[Item]:
    description = " · ".join(layout.preamble) or layout.title
    names = {
        f: layout.header[layout.columns[c]].strip()
        for c, f in FIELDS
        if c in layout.columns
    }
    match = _FOOTER.match(footer or "")
    if not match:
        yield ExportInfo(description=description, columns=names)
        return
    as_of = _footer_time(match.group(2))
    yield ExportInfo(
        as_of=as_of,
        description=f"{description} ({match.group(1)} basis)",
        columns=names,
    )
    if as_of is None and match.group(2).strip():
        yield Note(
            f"the footer's time {match.group(2).strip()!r} has no time zone or is not "
            "understood; records are dated by the file instead"
        )


def _footer_time(text: str) -> datetime | None:
    """Return the footer's time as naive UTC; None without a zone or when unreadable."""
    m = _STAMP.match(text.strip())
    if not m or not m.group("zone") or m.group("month").lower() not in _MONTHS:
        return None
    hour = int(m.group("hour"))
    ampm = (m.group("ampm") or "").lower().replace(".", "")
    if ampm and not 1 <= hour <= 12:
        return None
    if ampm:
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    offset = timedelta(0)
    if m.group("sign"):
        offset = timedelta(hours=int(m.group("oh")), minutes=int(m.group("om")))
        if m.group("sign") == "-":
            offset = -offset
    try:
        local = datetime(
            int(m.group("year")),
            _MONTHS[m.group("month").lower()],
            int(m.group("day")),
            hour,
            int(m.group("minute")),
            int(m.group("second") or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return (local - offset).replace(tzinfo=None)


# -- records --------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    """An open customer group (or aging section) and the sums of its rows so far."""

    label: str
    path: tuple[str, ...]
    sums: dict[str, Decimal] = field(default_factory=dict)
    unreadable: int = 0


class _Reader:
    """Turn the report's rows into records (layout, date order and groups decided)."""

    def __init__(
        self,
        layout: _Layout,
        survey: _Survey,
        options: ParseOptions,
        sheet: _CsvSheet | _XlsxSheet,
    ) -> None:
        self.layout = layout
        self.columns = layout.columns
        self.survey = survey
        self.dates = survey.dates
        self.options = options
        self.sheet = sheet
        self.width = len(layout.header)
        self.stack: list[_Group] = []
        self.grand = _Group("TOTAL", ())
        self.accounts_seen: set[str] = set()
        self.payments_seen: Counter[tuple[str, str, date]] = Counter()
        self.totals_skipped = 0
        self.totals_differ = False
        self.footer_seen = False

    def records(self, rows: Iterator[_Row]) -> Iterator[Item]:
        for row in rows:
            if row.line <= self.layout.header_line or row.blank:
                continue
            first = row.first
            if first:
                yield from self._labelled(row, first)
            else:
                yield from self._data_row(row)
        if self.totals_skipped:
            agree = "" if self.totals_differ else "; each matches the rows above it"
            yield Note(f"skipped {self.totals_skipped} total row(s){agree}")
        if not self.footer_seen:
            yield Note(
                "the report has no 'Accrual Basis …' footer line: the file may be cut "
                "short (an incomplete download?)"
            )

    # -- structure rows ---------------------------------------------------------------

    def _labelled(self, row: _Row, first: str) -> Iterator[Item]:
        if _FOOTER.match(first):
            self.footer_seen = True
        elif first.casefold() == "total":
            yield from self._check(self.grand, row)
            self.stack.clear()
        elif first.casefold().startswith("total for "):
            name = nfc_key(first[len("total for ") :])
            at = next(
                (
                    i
                    for i in range(len(self.stack) - 1, -1, -1)
                    if self.stack[i].label == name
                ),
                None,
            )
            if at is None:
                yield Note(
                    f"{first!r} closes no group above it; its total was not checked",
                    row.line,
                )
                return
            yield from self._check(self.stack[at], row)
            del self.stack[at:]
        elif row.rest_blank:
            label = nfc_key(first)
            path = (label,) if self.survey.flat else self.survey.paths.get(row.line)
            group = _Group(label, path or (*self._path(), label))
            if self.survey.flat:
                self.stack.clear()
            self.stack.append(group)
        else:
            yield Rejection(
                reason="expected a data row with an empty first cell, a customer row "
                "(a name and nothing else) or a 'Total for' row",
                line=row.line,
                record=first,
                value=row.preview(),
            )

    def _path(self) -> tuple[str, ...]:
        return self.stack[-1].path if self.stack else ()

    def _add_to_totals(self, row: _Row) -> None:
        values: dict[str, Decimal] = {}
        unreadable = False
        for column in CHECKED_COLUMNS:
            if column not in self.columns:
                continue
            try:
                values[column] = _amount(row.get(self.columns[column])) or Decimal(0)
            except CellError:
                unreadable = True
        for group in (*self.stack, self.grand):
            group.unreadable += unreadable
            for column, value in values.items():
                group.sums[column] = group.sums.get(column, Decimal(0)) + value

    def _check(self, group: _Group, row: _Row) -> Iterator[Note]:
        self.totals_skipped += 1
        for note in self._differences(group, row):
            self.totals_differ = True
            yield note

    def _differences(self, group: _Group, row: _Row) -> Iterator[Note]:
        first = row.first
        for column in CHECKED_COLUMNS:
            index = self.columns.get(column)
            cell = row.get(index)
            if index is None or not _text(cell).strip():
                continue
            header = self.layout.header[index]
            try:
                stated = _amount(cell)
            except CellError:
                yield Note(
                    f"{first!r}: the {header} total {_text(cell)!r} is not an amount; "
                    "not checked",
                    row.line,
                )
                continue
            if group.unreadable:
                yield Note(
                    f"{first!r}: the {header} total was not checked because "
                    f"{group.unreadable} row(s) above it have unreadable amounts",
                    row.line,
                )
                continue
            summed = group.sums.get(column, Decimal(0))
            if stated != summed:
                yield Note(
                    f"{first!r}: the report's {header} total is {stated} but the rows "
                    f"above it add up to {summed}; some rows may be missing or changed",
                    row.line,
                )

    # -- data rows --------------------------------------------------------------------

    def _data_row(self, row: _Row) -> Iterator[Item]:
        self._add_to_totals(row)
        kind_text = self._text(row, "type").strip()
        number = self._text(row, "number").strip()
        label = f"{kind_text or 'row'} {number}".strip()
        try:
            self._check_shape(row)
            items = self._items(row, kind_text, number)
        except CellError as exc:
            index = self.columns.get(exc.column or "")
            yield Rejection(
                reason=f"expected {exc.expected}",
                line=row.line,
                record=label,
                column=self.layout.header[index] if index is not None else exc.column,
                value=exc.value,
            )
            return
        yield from items

    def _check_shape(self, row: _Row) -> None:
        if not self.sheet.is_csv:
            return
        count = len(row.cells)
        if row.truncated or (
            row.at_eof and (count < self.width or not self.sheet.ends_with_newline)
        ):
            raise CellError(
                row.preview(),
                f"a complete row, but the file ends in the middle of line {row.line} "
                "(truncated export?)",
            )
        if count < self.width:
            raise CellError(
                row.preview(),
                f"{self.width} fields as in the header (line "
                f"{self.layout.header_line}), found {count} on line {row.line}",
            )
        if count > self.width and any(
            c.strip() for c in map(_text, row.cells[self.width :])
        ):
            raise CellError(
                row.preview(),
                f"{self.width} fields as in the header, found {count} on line "
                f"{row.line} (an unquoted comma?)",
            )

    def _items(self, row: _Row, kind_text: str, number: str) -> list[Item]:
        """Return everything one data row yields; a CellError rejects all of it."""
        kind = normalise_header(kind_text) if "type" in self.columns else INVOICE
        posting = normalise_header(self._text(row, "posting"))
        if posting == "no" or kind in NON_POSTING:
            why = "Posting = No" if posting == "no" else "it does not post to A/R"
            return [Note(f"skipped {kind_text or 'a row'} {number}: {why}", row.line)]
        if not kind:
            raise CellError(
                "", "a transaction type such as Invoice, Payment or Credit Memo", "type"
            )
        amount = self._money(row, "amount")
        if kind in REFUNDS:
            return [
                Note(
                    f"skipped {kind_text} {number} ({amount}): a refund receipt credits "
                    "and pays back the customer at once, so it leaves what they owe "
                    "unchanged; billed and paid figures leave it out",
                    row.line,
                )
            ]
        if kind not in (INVOICE, CREDIT_MEMO, PAYMENT, SALES_RECEIPT):
            return [
                Note(
                    f"skipped {kind_text} {number} ({amount}): billfold imports "
                    "invoices, credit memos, payments and sales receipts only, so this "
                    "customer's figures leave it out",
                    row.line,
                )
            ]
        account = self._account(row)
        currency = self._currency(row)
        issued = self._date(row, "date")
        if issued is None:
            raise CellError("", "the transaction date", "date")
        memo = self._text(row, "memo").strip() or None
        open_balance = self._open_balance(row)
        if kind == PAYMENT and amount == 0:
            # QuickBooks applying a credit memo (or a voided payment): no cash moved,
            # and the report does not say which invoice the credit went to.
            what = "voided" if memo and _VOID_MEMO.match(memo) else "applies a credit"
            return [
                Note(
                    f"skipped {kind_text} {number or '(no number)'} on {issued}: 0.00, "
                    f"no cash received ({what})",
                    row.line,
                )
            ]
        if kind == PAYMENT:
            records: list[Item] = [
                self._payment(
                    row, account, currency, issued, number, amount, memo, open_balance
                )
            ]
        else:
            records = self._documents(
                row, kind, account, currency, issued, number, amount, memo, open_balance
            )
        return [*self._ancestors(account), *records]

    def _documents(
        self,
        row: _Row,
        kind: str,
        account: AccountRecord,
        currency: str,
        issued: date,
        number: str,
        amount: Decimal,
        memo: str | None,
        open_balance: Decimal | None,
    ) -> list[Item]:
        if not number:
            raise CellError("", "a document number (Num)", "number")
        void = amount == 0 and memo is not None and bool(_VOID_MEMO.match(memo))
        record = DocumentRecord(
            kind="credit_note" if kind == CREDIT_MEMO else "invoice",
            external_id=document_key(DOCUMENT_TYPES[kind], number, account.key),
            former_id=f"Sales Receipt {number}" if kind == SALES_RECEIPT else number,
            number=number,
            account=account,
            issue_date=issued,
            due_date=self._date(row, "due_date"),
            currency=currency,
            total=abs(amount),
            lifecycle="void" if void else "issued",
            balance=None if open_balance is None else abs(open_balance),
            memo=memo,
            line=row.line,
            lines_known=False,  # reports have no line items; keep any stored ones
        )
        if kind != SALES_RECEIPT:
            return [record]
        # A sales receipt is billed and paid at once: an invoice whose own facts say it
        # is settled by cash, and a payment with nothing left over. No allocation links
        # them: a source that carries allocations is taken to carry all of them, which
        # would make every other invoice of the report look unpaid.
        record.amount_paid, record.amount_credited = abs(amount), Decimal(0)
        record.balance, record.paid_flag = Decimal(0), True
        if void or amount == 0:
            return [record]
        paid = f"Sales Receipt {number}"  # the payment's id names the customer already
        payment = self._payment(
            row, account, currency, issued, paid, amount, memo, None
        )
        payment.reference = number
        payment.unapplied = Decimal(0)
        return [record, payment]

    def _payment(
        self,
        row: _Row,
        account: AccountRecord,
        currency: str,
        received: date,
        number: str,
        amount: Decimal,
        memo: str | None,
        open_balance: Decimal | None,
    ) -> PaymentRecord:
        # Reports carry no payment id: customer, reference and date name it, and a
        # counter tells apart payments that share all three.
        key = (account.key, number, received)
        self.payments_seen[key] += 1
        return PaymentRecord(
            external_id=f"{account.key}/{number}/{received.isoformat()}/"
            f"{self.payments_seen[key]}",
            account=account,
            date=received,
            amount=abs(amount),
            currency=currency,
            reference=number or None,
            memo=memo,
            unapplied=None if open_balance is None else abs(open_balance),
            line=row.line,
        )

    def _ancestors(self, account: AccountRecord) -> list[Item]:
        found: list[Item] = []
        for parent in quickbooks_ancestors(account):
            if parent.key not in self.accounts_seen:
                self.accounts_seen.add(parent.key)
                found.append(parent)
        return found[::-1]

    # -- cells ------------------------------------------------------------------------

    def _text(self, row: _Row, column: str) -> str:
        return row.text(self.columns.get(column))

    def _money(self, row: _Row, column: str) -> Decimal:
        cell = row.get(self.columns.get(column))
        try:
            value = _amount(cell)
        except CellError as exc:
            raise CellError(_text(cell), exc.expected, column) from None
        if value is None:
            raise CellError("", f"an amount{ZERO_HIDDEN}", column)
        return value

    def _open_balance(self, row: _Row) -> Decimal | None:
        if "open_balance" not in self.columns:
            return None
        return self._money(row, "open_balance")

    def _date(self, row: _Row, column: str) -> date | None:
        cell = row.get(self.columns.get(column))
        if isinstance(cell, date):
            return cell
        if isinstance(cell, str):
            return self.dates.parse(cell, column, row.line)
        raise CellError(
            _text(cell), DATE_EXPECTED + " (this cell holds a number)", column
        )

    def _account(self, row: _Row) -> AccountRecord:
        if "customer" in self.columns:
            name = nfc_key(self._text(row, "customer"))
            if not name:
                raise CellError("", "the customer's name", "customer")
        else:
            path = self._path()
            if not path:
                raise CellError(
                    "", "a customer: a customer group row above this row", "customer"
                )
            # QuickBooks may print a sub-customer's full "Parent:Child" name or only
            # its own name inside its parent's group.
            name = path[-1] if ":" in path[-1] else ":".join(path)
        return quickbooks_account(name)

    def _currency(self, row: _Row) -> str:
        home = self.options.default_currency
        code = self._text(row, "currency").strip().upper()
        if code and code != home:
            raise CellError(
                code,
                f"a {home} transaction: the report's amounts are in the home currency, "
                f"so a {code} document's own amounts are not in this file (import it "
                "from the QuickBooks API instead)",
                "currency",
            )
        return home


class QuickBooksReport:
    """Reads QuickBooks Online report exports (CSV or "Export to Excel")."""

    name = "quickbooks_report"
    label = (
        "QuickBooks Online report, CSV or Excel (Invoice List, Transaction List by "
        "Customer, Open Invoices, A/R Aging Detail, Customer Balance Detail)"
    )

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim an Excel workbook, or a CSV whose report header is in its first rows."""
        if head.text is None:
            return head.data.startswith(b"PK\x03\x04") and b"xl/" in head.data
        try:
            rows = list(_head_rows(head.text))
        except csv.Error:
            return False
        preamble: list[str] = []
        for cells in rows:
            if not any(c.strip() for c in cells):
                continue
            if _is_header(cells):
                names = {normalise_header(c) for c in cells}
                titled = any(normalise_header(t) in TITLES for t in preamble)
                return titled or bool(names & REPORT_HEADERS)
            preamble.append(" ".join(c.strip() for c in cells if c.strip()))
        return False

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the export's time, then its documents and payments, row by row."""
        with export.path.open("rb") as file:
            magic = file.read(4)
        sheet: _CsvSheet | _XlsxSheet = (
            _XlsxSheet(export) if magic == b"PK\x03\x04" else _CsvSheet(export)
        )
        with contextlib.closing(sheet.rows()) as rows:
            layout = _read_layout(rows, options)
        footer_cells = sheet.tail()
        with contextlib.closing(sheet.rows()) as rows:
            survey = _survey(rows, layout, options)
        footer = footer_cells[0].strip() if footer_cells else survey.footer
        yield from _export_info(footer, layout)
        reader = _Reader(layout, survey, options, sheet)
        with contextlib.closing(sheet.rows()) as rows:
            yield from reader.records(rows)


def _head_rows(text: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text))
    for index, cells in enumerate(reader):
        if index > MAX_PREAMBLE_ROWS + 5:
            return
        yield cells
