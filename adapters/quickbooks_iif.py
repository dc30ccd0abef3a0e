"""QuickBooks Desktop IIF (Intuit Interchange Format): customers, invoices, credit memos,
payments and cash sales.

An IIF file is lines of cells separated by tabs (some tools write commas; the first
``!`` row tells). A row whose first cell is ``!KEYWORD`` names the columns of the
``KEYWORD`` rows after it. A transaction is one ``TRNS`` row, its ``SPL`` distribution
rows and ``ENDTRNS``, read or rejected as one unit; its amounts must balance
(TRNS + Σ SPL = 0). IIF never says what is still due or which invoice a payment paid,
so those stay unknown; an invoice with ``PAID`` = ``Y`` is settled (formats spec,
section 4; README "QuickBooks Desktop IIF").
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TextIO

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import CellError, FileRejected
from adapters.quickbooks_names import quickbooks_account, quickbooks_ancestors
from adapters.toolkit.cells import FileDates, parse_amount, parse_date
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    LineRecord,
    Note,
    PaymentRecord,
    Rejection,
)

# Keywords Intuit defines for IIF rows (lists and transactions); a file whose first row
# is "!" plus one of these is IIF.
KEYWORDS = frozenset(
    (
        "HDR", "TRNS", "SPL", "ENDTRNS", "CUST", "VEND", "EMP", "OTHERNAME", "ACCNT",
        "INVITEM", "CLASS", "CTYPE", "VTYPE", "TERMS", "PAYMETH", "SHIPMETH", "INVMEMO",
        "SALESREP", "SALESTAXCODE", "BUD", "TODO", "TIMERHDR", "TIMEACT", "PAYITEM",
        "PRICELEVEL", "CUSTITEMDICT", "CUSTNAMEDICT", "VENDITEMDICT", "VENDNAMEDICT",
        "EMPLOYEEDICT", "QBP EMPLOYEE",
    )
)  # fmt: skip
# Customer A/R documents this adapter reads; every other TRNSTYPE Intuit defines is noted
# and skipped (bills, cheques, deposits, journal entries are not customer documents).
READ_TYPES = ("INVOICE", "CREDIT MEMO", "PAYMENT", "CASH SALE")
OTHER_TYPES = frozenset(
    (
        "CASH REFUND", "ESTIMATES", "GENERAL JOURNAL", "DEPOSIT", "CHECK", "BILL",
        "BILL REFUND", "CREDIT CARD", "CCARD REFUND", "PURCHORD", "TRANSFER",
        "BEGINBALCHECK", "INVENTORY ADJUST", "PAYCHECK", "BILLPMT", "BILL PMT",
        "SALESORDER", "SALES ORDER",
    )
)  # fmt: skip
LABELS = {
    "INVOICE": "invoice",
    "CREDIT MEMO": "credit note",
    "PAYMENT": "payment",
    "CASH SALE": "cash sale",
}
# Columns without which a block cannot be read at all (Intuit requires TRNSTYPE, DATE
# and AMOUNT on transactions); anything else missing rejects only the records needing it.
REQUIRED = {
    "TRNS": ("TRNSTYPE", "DATE", "AMOUNT"),
    "SPL": ("AMOUNT",),
    "CUST": ("NAME",),
}
DATE_COLUMNS = ("DATE", "DUEDATE")
VOID_PREFIX = "VOID:"
# QuickBooks marks its computed sales-tax line with EXTRA = AUTOSTAX; files written by
# hand or by other tools post tax to a liability account instead.
AUTOSTAX = "AUTOSTAX"
_TAX_ACCOUNT = re.compile(
    r"sales\s*tax|\b(?:tax|gst|hst|pst|qst|vat)\b.*\bpayable\b", re.IGNORECASE
)
# A transaction this long without ENDTRNS is a broken file, not an invoice; stop
# buffering it so a file cannot make the reader hold unbounded rows.
MAX_SPL_ROWS = 10_000


@dataclass(slots=True)
class _Row:
    """One non-blank line of the file, split into cells."""

    line: int
    keyword: str  # upper case, without the "!" of a definition row
    definition: bool
    cells: list[str]
    text: str
    terminated: bool = True
    malformed: bool = False


@dataclass(slots=True)
class _Columns:
    """The columns a ``!KEYWORD`` row defines for the ``KEYWORD`` rows after it."""

    keyword: str
    line: int
    index: dict[str, int]
    width: int

    def cell(self, row: _Row, name: str) -> str:
        i = self.index.get(name)
        if i is None or i >= len(row.cells):
            return ""
        return row.cells[i]


@dataclass(slots=True)
class _Transaction:
    """A TRNS row and the SPL rows after it, waiting for ENDTRNS."""

    trns: _Row
    columns: _Columns
    splits: list[tuple[_Row, _Columns]] = field(default_factory=list)
    overflow: bool = False

    @property
    def kind(self) -> str:
        return " ".join(self.columns.cell(self.trns, "TRNSTYPE").split()).upper()


def _unquote(cell: str) -> str:
    """Undo the quotes some tools put around a whole tab-separated cell."""
    if len(cell) >= 2 and cell[0] == '"' and cell[-1] == '"':
        return cell[1:-1].replace('""', '"')
    return cell


def _split(text: str, delimiter: str) -> tuple[list[str], bool]:
    """Return a line's cells and whether its quoting was broken (comma files only)."""
    if delimiter == "\t":
        return [_unquote(c) for c in text.split("\t")], False
    try:
        return next(csv.reader([text], delimiter=",", strict=True), []), False
    except csv.Error:
        return text.split(","), True


def read_rows(file: TextIO) -> Iterator[_Row]:
    """Yield the non-blank rows of an IIF file, deciding tab or comma from its first ``!`` row."""
    delimiter: str | None = None
    try:
        for number, raw in enumerate(file, start=1):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            if delimiter is None:
                if "\t" in text:
                    delimiter = "\t"
                elif "," in text and text.lstrip().startswith(("!", '"!')):
                    delimiter = ","
            cells, malformed = _split(text, delimiter or "\t")
            first = cells[0].strip().upper() if cells else ""
            definition = first.startswith("!")
            yield _Row(
                line=number,
                keyword=" ".join(first.lstrip("!").split()),
                definition=definition,
                cells=cells,
                text=text,
                terminated=raw != text,
                malformed=malformed,
            )
    except UnicodeDecodeError as exc:
        raise FileRejected(
            f"the file is not readable text in its encoding ({exc.reason}); expected "
            "an IIF file as QuickBooks writes it (ANSI/Windows-1252 or UTF-8)"
        ) from None


def _define(row: _Row) -> _Columns:
    """Return the columns a ``!KEYWORD`` row defines; refuse a block that cannot be read."""
    index: dict[str, int] = {}
    repeated: list[str] = []
    for i, cell in enumerate(row.cells[1:], start=1):
        name = cell.strip().upper()
        if not name:
            continue
        if name in index:
            repeated.append(name)
            continue
        index[name] = i
    needed = REQUIRED.get(row.keyword, ())
    missing = [c for c in needed if c not in index]
    if missing:
        raise FileRejected(
            f"the !{row.keyword} row lacks column(s) {', '.join(missing)}; expected an "
            f"IIF header naming {', '.join(needed)}",
            line=row.line,
        )
    clash = [c for c in repeated if c in needed or c in DATE_COLUMNS]
    if clash:
        raise FileRejected(
            f"the !{row.keyword} row names {clash[0]} twice; expected each column once",
            line=row.line,
        )
    return _Columns(row.keyword, row.line, index, len(row.cells))


def _preview(row: _Row) -> str:
    text = row.text.replace("\t", " | ")
    return text if len(text) <= 80 else text[:77] + "..."


def _negate(value: Decimal | None, invert: bool) -> Decimal | None:
    """Return *value* with its sign turned when *invert* (negation keeps 0 as 0, not -0)."""
    if value is None or not invert:
        return value
    return -value


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


def _is_tax_split(extra: str, account: str) -> bool:
    return extra.strip().upper() == AUTOSTAX or bool(_TAX_ACCOUNT.search(account))


class QuickBooksIif:
    """Reads QuickBooks Desktop IIF exports (tab- or comma-separated)."""

    name = "quickbooks_iif"
    label = "QuickBooks Desktop IIF"
    # A comma-separated !TRNS row read as CSV: not billfold's generic contract.
    markers = frozenset(("trns", "trnstype"))

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a file whose first non-blank row is ``!`` plus an IIF keyword."""
        if head.text is None:
            return False
        for raw in head.text.splitlines():
            text = raw.lstrip("\ufeff").strip()
            if not text:
                continue
            first = _unquote(re.split(r"[\t,]", text, maxsplit=1)[0].strip())
            if not first.startswith("!"):
                return False
            return " ".join(first[1:].split()).upper() in KEYWORDS
        return False

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the customers, documents and payments of an IIF export."""
        dates = self._date_order(export, options)
        reader = _Reader(dates, options)
        with export.open_text() as file:
            yield from reader.items(read_rows(file))

    def _date_order(self, export: ExportFile, options: ParseOptions) -> FileDates:
        """Scan the transaction dates (stopping once the file proves an order).

        Intuit writes IIF dates month first, so a file whose dates fit both orders is
        read month first unless the source configures otherwise; a file whose dates
        prove day first (non-US QuickBooks) is read day first, and one that proves both
        is refused.
        """
        dates = FileDates(options.date_order or "MDY")
        columns: dict[str, _Columns] = {}
        with export.open_text() as file:
            for row in read_rows(file):
                if row.definition:
                    if row.keyword in ("TRNS", "HDR"):
                        columns[row.keyword] = _define(row)
                    continue
                found = columns.get(row.keyword)
                if found is None:
                    continue
                for name in DATE_COLUMNS:
                    dates.scan(found.cell(row, name).strip(), row.line)
                if dates.decided:
                    break
        dates.settle()
        return dates


class _Reader:
    """Turn the rows of one file into records (date order decided)."""

    def __init__(self, dates: FileDates, options: ParseOptions) -> None:
        self.dates = dates
        self.options = options
        self.columns: dict[str, _Columns] = {}
        self.open: _Transaction | None = None
        self.seen_row = False
        self.seen_record = False
        self.in_orphan_run = False
        self.accounts: set[str] = set()
        self.payment_keys: dict[str, int] = {}
        # message -> [count, first line], reported once at the end of the file
        self.skipped: dict[str, list[int]] = {}

    # -- rows to transactions ---------------------------------------------------------

    def items(self, rows: Iterator[_Row]) -> Iterator[Item]:
        for row in rows:
            if not self.seen_row:
                self.seen_row = True
                if not row.definition:
                    raise FileRejected(
                        "expected an IIF file whose first row names its columns "
                        "(!HDR, !CUST, !TRNS ...)",
                        line=row.line,
                        value=_preview(row),
                    )
            inside = not row.definition and row.keyword in ("SPL", "ENDTRNS")
            if self.open is not None and not inside:
                yield from self._close(cut_at=row.line)
            if row.keyword != "SPL" or row.definition:
                self.in_orphan_run = False
            if row.definition:
                self.columns[row.keyword] = _define(row)
            elif row.keyword == "TRNS":
                self.open = _Transaction(row, self._columns_for(row))
            elif row.keyword == "SPL":
                yield from self._split_row(row)
            elif row.keyword == "ENDTRNS":
                if self.open is not None:
                    yield from self._close(cut_at=None)
                else:
                    self._skip("ENDTRNS row(s) without a transaction to end", row.line)
            elif row.keyword == "HDR":
                yield from self._header(row)
            elif row.keyword == "CUST":
                yield from self._customer(row)
            else:
                keyword = row.keyword or "(blank)"
                self._skip(
                    f"{keyword} row(s) (only customers and A/R transactions are read)",
                    row.line,
                )
        if self.open is not None:
            yield from self._close(cut_at=None, at_eof=True)
        if not self.seen_row:
            raise FileRejected("the file is empty; expected IIF rows (!TRNS, TRNS ...)")
        for message, (count, line) in self.skipped.items():
            yield Note(f"skipped {count} {message}; first on line {line}", line)

    def _columns_for(self, row: _Row) -> _Columns:
        found = self.columns.get(row.keyword)
        if found is None:
            raise FileRejected(
                f"a {row.keyword} row comes before any !{row.keyword} row naming its "
                f"columns; expected the !{row.keyword} header first",
                line=row.line,
                value=_preview(row),
            )
        return found

    def _skip(self, message: str, line: int) -> None:
        slot = self.skipped.setdefault(message, [0, line])
        slot[0] += 1

    def _split_row(self, row: _Row) -> Iterator[Item]:
        columns = self._columns_for(row)
        txn = self.open
        if txn is None:
            if not self.in_orphan_run:
                self.in_orphan_run = True
                yield Rejection(
                    reason="expected a TRNS row before this SPL row (a distribution "
                    "line whose transaction is missing)",
                    line=row.line,
                    record=f"SPL row on line {row.line}",
                    value=_preview(row),
                )
            return
        if len(txn.splits) >= MAX_SPL_ROWS:
            txn.overflow = True
            return
        txn.splits.append((row, columns))

    def _close(self, *, cut_at: int | None, at_eof: bool = False) -> Iterator[Item]:
        txn = self.open
        assert txn is not None
        self.open = None
        kind = txn.kind
        if kind in OTHER_TYPES:
            self._skip(
                f"{kind} transaction(s) (not customer invoices, credit memos or "
                "payments)",
                txn.trns.line,
            )
            return
        label = self._label(txn)
        problem = None
        if cut_at is not None:
            problem = (
                f"ENDTRNS to end the transaction that starts on line {txn.trns.line} "
                f"before line {cut_at}"
            )
        elif at_eof:
            problem = (
                f"ENDTRNS to end the transaction that starts on line {txn.trns.line}, "
                "but the file ends first (truncated export?)"
            )
        elif txn.overflow:
            problem = f"at most {MAX_SPL_ROWS} SPL rows in one transaction"
        if problem is not None:
            yield Rejection(
                reason=f"expected {problem}",
                line=txn.trns.line,
                record=label,
                value=_preview(txn.trns),
            )
            return
        yield from self._transaction(txn, label)

    @staticmethod
    def _label(txn: _Transaction) -> str:
        what = LABELS.get(txn.kind, "transaction")
        number = txn.columns.cell(txn.trns, "DOCNUM").strip()
        return f"{what} {number}" if number else f"{what} on line {txn.trns.line}"

    # -- lists --------------------------------------------------------------------------

    def _header(self, row: _Row) -> Iterator[Item]:
        columns = self.columns.get("HDR")
        if columns is None or self.seen_record:
            return
        product = " ".join(
            part
            for part in (columns.cell(row, c).strip() for c in ("PROD", "VER", "REL"))
            if part
        )
        as_of = self._export_time(columns, row)
        if as_of is None and columns.cell(row, "DATE").strip():
            yield Note(
                f"could not read the export date {columns.cell(row, 'DATE')!r} in the "
                "HDR row; records are dated by the file instead",
                row.line,
            )
        yield ExportInfo(as_of=as_of, description=product or None)

    def _export_time(self, columns: _Columns, row: _Row) -> datetime | None:
        """Return when the file was exported (naive UTC): HDR DATE, to the second by TIME.

        TIME is the Unix time QuickBooks writes beside DATE; it is used only when it
        falls within two days of DATE (DATE is the local day, TIME is UTC).
        """
        try:
            day = parse_date(columns.cell(row, "DATE").strip(), self.dates.order)
        except CellError:
            return None
        if day is None:
            return None
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        time_text = columns.cell(row, "TIME").strip()
        if time_text.isdigit() and len(time_text) <= 11:
            moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
                seconds=int(time_text)
            )
            if abs(moment - midnight) <= timedelta(days=2):
                return moment.replace(tzinfo=None)
        return midnight.replace(tzinfo=None)

    def _customer(self, row: _Row) -> Iterator[Item]:
        columns = self._columns_for(row)
        name = columns.cell(row, "NAME")
        record = (
            f"customer {name.strip()}"
            if name.strip()
            else f"customer on line {row.line}"
        )
        if not row.terminated and len(row.cells) < columns.width:
            yield Rejection(
                reason=f"expected {columns.width} fields as in the !CUST row (line "
                f"{columns.line}), but the file ends in the middle of line {row.line} "
                "(truncated export?)",
                line=row.line,
                record=record,
                value=_preview(row),
            )
            return
        if row.malformed or not name.strip():
            yield Rejection(
                reason="expected a customer NAME"
                + (" (the row's quotes do not balance)" if row.malformed else ""),
                line=row.line,
                record=record,
                column="NAME",
                value=name if not row.malformed else _preview(row),
            )
            return
        account = quickbooks_account(name, columns.cell(row, "EMAIL").strip() or None)
        yield from self._ancestors(account)
        self.accounts.add(account.key)
        yield account

    def _ancestors(self, account: AccountRecord) -> Iterator[AccountRecord]:
        for parent in quickbooks_ancestors(account):
            if parent.key not in self.accounts:
                self.accounts.add(parent.key)
                yield parent

    # -- transactions -----------------------------------------------------------------

    def _transaction(self, txn: _Transaction, label: str) -> Iterator[Item]:
        try:
            records = self._records(txn)
        except CellError as exc:
            yield Rejection(
                reason=f"expected {exc.expected}",
                line=txn.trns.line,
                record=label,
                column=exc.column,
                value=exc.value,
            )
            return
        for record in records:
            if isinstance(record, DocumentRecord | PaymentRecord):
                self.seen_record = True
                yield from self._ancestors(record.account)
            yield record

    def _records(self, txn: _Transaction) -> list[Item]:
        kind = txn.kind
        if kind not in READ_TYPES:
            raise CellError(
                txn.columns.cell(txn.trns, "TRNSTYPE"),
                "a TRNSTYPE Intuit defines (INVOICE, CREDIT MEMO, PAYMENT, CASH SALE, "
                "or a non-customer type such as BILL or CHECK)",
                "TRNSTYPE",
            )
        self._check_shape(txn)
        total = self._amount(txn.trns, txn.columns, "AMOUNT", txn.trns)
        splits = [
            (row, columns, self._amount(row, columns, "AMOUNT", txn.trns))
            for row, columns in txn.splits
        ]
        assert total is not None
        imbalance = total + sum((a for _, _, a in splits), Decimal(0))
        if imbalance != 0:
            raise CellError(
                txn.columns.cell(txn.trns, "AMOUNT"),
                "SPL amounts that balance the TRNS AMOUNT (TRNS + SPL must be 0, "
                f"these add up to {imbalance})",
                "AMOUNT",
            )
        if kind == "PAYMENT":
            return [self._payment(txn, total)]
        if kind == "CASH SALE" and not txn.columns.cell(txn.trns, "NAME").strip():
            number = txn.columns.cell(txn.trns, "DOCNUM").strip()
            return [
                Note(
                    f"skipped cash sale {number or 'without a number'}: it names no "
                    "customer (a walk-in sale), so no account can see it",
                    txn.trns.line,
                )
            ]
        document = self._document(txn, kind, total, splits)
        if kind != "CASH SALE":
            return [document]
        return [document, self._cash_sale_payment(txn, document)]

    def _check_shape(self, txn: _Transaction) -> None:
        for row, columns in (txn.trns, txn.columns), *txn.splits:
            if row.malformed:
                raise CellError(
                    _preview(row),
                    f"comma-separated cells with balanced quotes on line {row.line}",
                )
            needed = columns.index["AMOUNT"] + 1
            if len(row.cells) < needed:
                raise CellError(
                    _preview(row),
                    f"at least {needed} fields (up to AMOUNT) as in the !{row.keyword} "
                    f"row (line {columns.line}), found {len(row.cells)} on line "
                    f"{row.line}",
                    "AMOUNT",
                )
            extra = row.cells[columns.width :]
            if any(c.strip() for c in extra):
                raise CellError(
                    _preview(row),
                    f"{columns.width} fields as in the !{row.keyword} row (line "
                    f"{columns.line}), found {len(row.cells)} on line {row.line} "
                    "(a stray separator?)",
                )

    # -- cells --------------------------------------------------------------------------

    @staticmethod
    def _where(row: _Row, trns: _Row) -> str:
        return "" if row is trns else f" (SPL row on line {row.line})"

    def _amount(
        self, row: _Row, columns: _Columns, name: str, trns: _Row
    ) -> Decimal | None:
        text = columns.cell(row, name)
        try:
            value = parse_amount(text)
        except CellError as exc:
            raise CellError(text, exc.expected + self._where(row, trns), name) from None
        if value is None and name == "AMOUNT":
            raise CellError(text, "an AMOUNT" + self._where(row, trns), name)
        return value

    def _date(self, txn: _Transaction, name: str, required: str | None) -> date | None:
        text = txn.columns.cell(txn.trns, name)
        value = self.dates.parse(text.strip(), name, txn.trns.line)
        if value is None and required:
            raise CellError(text, required, name)
        return value

    def _account(self, txn: _Transaction) -> AccountRecord:
        name = txn.columns.cell(txn.trns, "NAME")
        if not name.strip():
            raise CellError(name, "the customer's NAME on the TRNS row", "NAME")
        return quickbooks_account(name)

    def _number(self, txn: _Transaction) -> str:
        number = txn.columns.cell(txn.trns, "DOCNUM").strip()
        if not number:
            raise CellError("", "a DOCNUM (the document number)", "DOCNUM")
        return number

    def _paid_flag(self, txn: _Transaction) -> bool | None:
        """PAID = Y means paid in full; N means not fully paid, which may be partly: unknown."""
        text = txn.columns.cell(txn.trns, "PAID")
        flag = text.strip().upper()
        if flag in ("Y", "YES"):
            return True
        if flag in ("", "N", "NO"):
            return None
        raise CellError(text, "PAID Y or N", "PAID")

    def _text(self, txn: _Transaction, name: str) -> str | None:
        return txn.columns.cell(txn.trns, name).strip() or None

    # -- records ------------------------------------------------------------------------

    def _document(
        self,
        txn: _Transaction,
        kind: str,
        total: Decimal,
        splits: list[tuple[_Row, _Columns, Decimal]],
    ) -> DocumentRecord:
        """An INVOICE or CASH SALE (A/R or bank side positive) or a CREDIT MEMO (negative)."""
        credit = kind == "CREDIT MEMO"
        memo = self._text(txn, "MEMO")
        void = total == 0 and (memo or "").upper().startswith(VOID_PREFIX)
        amount_text = txn.columns.cell(txn.trns, "AMOUNT")
        if credit and total > 0:
            raise CellError(
                amount_text,
                "a negative AMOUNT on the TRNS row of a CREDIT MEMO (the A/R side); a "
                "positive one would be a charge",
                "AMOUNT",
            )
        if not credit and total < 0:
            raise CellError(
                amount_text,
                f"a positive AMOUNT on the TRNS row of {_article(kind)} {kind} (a "
                "credit belongs in a CREDIT MEMO)",
                "AMOUNT",
            )
        number = self._number(txn)
        issue_date = self._date(txn, "DATE", "the document DATE")
        due_date = self._date(txn, "DUEDATE", None)
        account = self._account(txn)
        # Income lines carry the opposite sign of the A/R side: negative on invoices.
        invert = not credit
        lines: list[LineRecord] = []
        tax: Decimal | None = None
        for row, columns, amount in splits:
            if _is_tax_split(columns.cell(row, "EXTRA"), columns.cell(row, "ACCNT")):
                tax = (tax or Decimal(0)) + amount
                continue
            lines.append(self._line(txn, row, columns, amount, invert, len(lines) + 1))
        tax = _negate(tax, invert)
        total = abs(total)
        paid_flag = self._paid_flag(txn) if kind == "INVOICE" else None
        cash_sale = kind == "CASH SALE"
        return DocumentRecord(
            kind="credit_note" if credit else "invoice",
            external_id=f"cash sale {number}" if cash_sale else number,
            number=number,
            account=account,
            issue_date=issue_date,
            due_date=due_date,
            currency=self.options.default_currency,
            subtotal=None if tax is None else total - tax,
            tax=tax,
            total=total,
            lifecycle="void" if void else "issued",
            # A cash sale is paid in full when it is rung up.
            amount_paid=total if cash_sale and not void else None,
            amount_credited=Decimal(0) if cash_sale and not void else None,
            balance=Decimal(0) if cash_sale and not void else None,
            paid_flag=True if cash_sale and not void else (None if void else paid_flag),
            reference=self._text(txn, "PONUM"),
            memo=memo,
            lines=lines,
            line=txn.trns.line,
        )

    def _line(
        self,
        txn: _Transaction,
        row: _Row,
        columns: _Columns,
        amount: Decimal,
        invert: bool,
        position: int,
    ) -> LineRecord:
        quantity = self._amount(row, columns, "QNTY", txn.trns)
        price_text = columns.cell(row, "PRICE").strip()
        # A percentage PRICE (a discount or tax rate item) is a rate, not a unit price.
        price = (
            None
            if price_text.endswith("%")
            else self._amount(row, columns, "PRICE", txn.trns)
        )
        return LineRecord(
            position=position,
            description=columns.cell(row, "MEMO").strip(),
            item=columns.cell(row, "INVITEM").strip() or None,
            quantity=_negate(quantity, invert),
            unit_price=price,
            amount=_negate(amount, invert),
        )

    def _payment(self, txn: _Transaction, amount: Decimal) -> PaymentRecord:
        """Cash received: IIF never says which invoice it paid or what is unapplied."""
        memo = self._text(txn, "MEMO")
        void = amount == 0 and (memo or "").upper().startswith(VOID_PREFIX)
        received = self._date(txn, "DATE", "the DATE the payment was received")
        assert received is not None
        account = self._account(txn)
        reference = self._text(txn, "DOCNUM")
        return PaymentRecord(
            external_id=self._payment_id(txn, account, reference or "", received),
            account=account,
            date=received,
            # Writers that put the A/R side on the TRNS row sign it negative; a PAYMENT
            # is money received either way.
            amount=abs(amount),
            currency=self.options.default_currency,
            method=self._text(txn, "PAYMETH"),
            reference=reference,
            memo=memo,
            lifecycle="void" if void else "active",
            line=txn.trns.line,
        )

    def _cash_sale_payment(
        self, txn: _Transaction, sale: DocumentRecord
    ) -> PaymentRecord:
        """The cash a cash sale (sales receipt) took, all of it spent on that sale.

        The sale itself says it is paid (balance 0), so the payment carries no
        allocation: the engine reads a source that has any allocations as one whose
        allocations are complete, which would make every IIF invoice look unpaid.
        """
        assert sale.issue_date is not None and sale.total is not None
        void = sale.lifecycle == "void"
        return PaymentRecord(
            external_id=self._payment_id(
                txn, sale.account, f"cash sale {sale.number}", sale.issue_date
            ),
            account=sale.account,
            date=sale.issue_date,
            amount=sale.total,
            currency=sale.currency,
            method=self._text(txn, "PAYMETH"),
            reference=sale.number,
            memo=sale.memo,
            unapplied=None if void else Decimal(0),
            lifecycle="void" if void else "active",
            line=txn.trns.line,
        )

    def _payment_id(
        self, txn: _Transaction, account: AccountRecord, reference: str, when: date
    ) -> str:
        """TRNSID when the file has one; else customer/reference/date, numbered on repeats.

        Two payments from one customer on one day with the same (or no) reference are
        still two payments: the second gets ``/2`` so it is not taken for a duplicate.
        """
        trnsid = txn.columns.cell(txn.trns, "TRNSID").strip()
        if trnsid:
            return trnsid
        base = f"{account.key}/{reference}/{when.isoformat()}"
        seen = self.payment_keys.get(base, 0) + 1
        self.payment_keys[base] = seen
        return base if seen == 1 else f"{base}/{seen}"
