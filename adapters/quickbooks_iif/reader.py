"""Read an IIF file row by row: lists, the export header, and transactions.

``!KEYWORD`` rows define columns; ``CUST`` rows become accounts (``Parent:Child`` jobs
become sites), the ``HDR`` row dates the export, and each ``TRNS`` ... ``ENDTRNS``
block goes to ``transactions`` whole, or is rejected whole when it is not complete.
Rows of other lists and other transaction types are counted in one note each.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from adapters.base import ParseOptions
from adapters.errors import CellError, FileRejected
from adapters.quickbooks_iif.rows import Columns, Row, Transaction, define, preview
from adapters.quickbooks_iif.transactions import Transactions
from adapters.quickbooks_names import quickbooks_account, quickbooks_ancestors
from adapters.toolkit.cells import FileDates, parse_date
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    Note,
    PaymentRecord,
    Rejection,
)

# Transaction types Intuit defines that are not customer documents (bills, cheques,
# deposits, journal entries): noted and skipped.
OTHER_TYPES = frozenset(
    (
        "CASH REFUND", "ESTIMATES", "GENERAL JOURNAL", "DEPOSIT", "CHECK", "BILL",
        "BILL REFUND", "CREDIT CARD", "CCARD REFUND", "PURCHORD", "TRANSFER",
        "BEGINBALCHECK", "INVENTORY ADJUST", "PAYCHECK", "BILLPMT", "BILL PMT",
        "SALESORDER", "SALES ORDER",
    )
)  # fmt: skip
# How a rejection names a transaction of each type read.
LABELS = {
    "INVOICE": "invoice",
    "CREDIT MEMO": "credit note",
    "PAYMENT": "payment",
    "CASH SALE": "cash sale",
}
# A transaction this long without ENDTRNS is a broken file, not an invoice; stop
# buffering it so a file cannot make the reader hold unbounded rows.
MAX_SPL_ROWS = 10_000


class Reader:
    """Turn the rows of one file into records (date order decided)."""

    def __init__(self, dates: FileDates, options: ParseOptions) -> None:
        self.dates = dates
        self.options = options
        self.columns: dict[str, Columns] = {}
        self.open: Transaction | None = None
        self.seen_row = False
        self.seen_record = False
        self.in_orphan_run = False
        self.accounts: set[str] = set()
        self.transactions = Transactions(dates, options)
        # message -> [count, first line], reported once at the end of the file
        self.skipped: dict[str, list[int]] = {}

    # -- rows to transactions ---------------------------------------------------------

    def items(self, rows: Iterator[Row]) -> Iterator[Item]:
        for row in rows:
            if not self.seen_row:
                self.seen_row = True
                if not row.definition:
                    raise FileRejected(
                        "expected an IIF file whose first row names its columns "
                        "(!HDR, !CUST, !TRNS ...)",
                        line=row.line,
                        value=preview(row),
                    )
            inside = not row.definition and row.keyword in ("SPL", "ENDTRNS")
            if self.open is not None and not inside:
                yield from self._close(cut_at=row.line)
            if row.keyword != "SPL" or row.definition:
                self.in_orphan_run = False
            if row.definition:
                self.columns[row.keyword] = define(row)
            elif row.keyword == "TRNS":
                self.open = Transaction(row, self._columns_for(row))
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

    def _columns_for(self, row: Row) -> Columns:
        found = self.columns.get(row.keyword)
        if found is None:
            raise FileRejected(
                f"a {row.keyword} row comes before any !{row.keyword} row naming its "
                f"columns; expected the !{row.keyword} header first",
                line=row.line,
                value=preview(row),
            )
        return found

    def _skip(self, message: str, line: int) -> None:
        slot = self.skipped.setdefault(message, [0, line])
        slot[0] += 1

    def _split_row(self, row: Row) -> Iterator[Item]:
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
                    value=preview(row),
                )
            return
        if _empty_split(row, columns):
            self._skip(
                "empty SPL row(s) (nothing but SPL and an id: no amount, no account)",
                row.line,
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
                value=preview(txn.trns),
            )
            return
        yield from self._transaction(txn, label)

    @staticmethod
    def _label(txn: Transaction) -> str:
        what = LABELS.get(txn.kind, "transaction")
        number = txn.columns.cell(txn.trns, "DOCNUM").strip()
        return f"{what} {number}" if number else f"{what} on line {txn.trns.line}"

    # -- lists --------------------------------------------------------------------------

    def _header(self, row: Row) -> Iterator[Item]:
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

    def _export_time(self, columns: Columns, row: Row) -> datetime | None:
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

    def _customer(self, row: Row) -> Iterator[Item]:
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
                value=preview(row),
            )
            return
        if row.malformed or not name.strip():
            yield Rejection(
                reason="expected a customer NAME"
                + (" (the row's quotes do not balance)" if row.malformed else ""),
                line=row.line,
                record=record,
                column="NAME",
                value=name if not row.malformed else preview(row),
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

    def _transaction(self, txn: Transaction, label: str) -> Iterator[Item]:
        try:
            records = self.transactions.records(txn)
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


def _empty_split(row: Row, columns: Columns) -> bool:
    """Whether an SPL row holds nothing but its keyword and an id.

    Two open-source IIF writers end a transaction with such a row; it carries no
    amount, so it cannot unbalance anything and is skipped with a note.
    """
    spl_id = columns.index.get("SPLID")
    return not any(
        cell.strip() for i, cell in enumerate(row.cells) if i != 0 and i != spl_id
    )
