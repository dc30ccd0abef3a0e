"""QuickBooks Online report exports, CSV or Excel (FORMATS.md section 3).

Four reports are read: Invoice List, Transaction List by Customer, Open Invoices /
A/R Aging Detail, and Customer Balance Detail. All share one dialect: preamble rows
(company, title, period; in any order), a header row whose first cell is empty,
customer group rows (a name and nothing else), data rows whose first cell is empty,
``Total for <group>`` and ``TOTAL`` rows, and as the last row a footer such as
``Accrual Basis Monday, June 30, 2025 04:12 PM GMT-07:00``. "Export to Excel" gives the
same rows as typed cells (numbers, real dates), read as values, never as display text.

The report is a table (``toolkit.tabular``) read in streaming passes: the header
(``layout``), the footer and a survey of every row (``survey``: day/month order,
whether amounts carry cents, how customer groups nest), then the records, one per data
row, with the group and total rows between them (``groups``). Total rows are checks,
never data.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from datetime import date
from decimal import Decimal

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import CellError
from adapters.quickbooks_names import quickbooks_account, quickbooks_ancestors
from adapters.quickbooks_report.groups import Groups
from adapters.quickbooks_report.layout import (
    COLUMNS,
    MAX_PREAMBLE_ROWS,
    NO_HEADER,
    REPORT_HEADERS,
    TITLES,
    is_header,
    refuse_divided,
    report_kind,
    row_label,
)
from adapters.quickbooks_report.sheets import CsvSheet, XlsxSheet, open_sheet
from adapters.quickbooks_report.survey import Survey, export_info, survey
from adapters.toolkit.cells import cell_text
from adapters.toolkit.columns import nfc_key, normalise_header
from adapters.toolkit.csv_rows import Row
from adapters.toolkit.keys import document_key
from adapters.toolkit.table import Table, Values, check_widths
from adapters.toolkit.tabular import TabularAdapter, head_rows
from schemas.records import AccountRecord, DocumentRecord, Item, Note, PaymentRecord

# Transaction types (normalised) and what billfold makes of them.
INVOICE, CREDIT_MEMO, PAYMENT, SALES_RECEIPT = (
    "invoice", "creditmemo", "payment", "salesreceipt",
)  # fmt: skip
NON_POSTING = frozenset(
    ("estimate", "delayedcharge", "delayedcredit", "purchaseorder", "salesorder")
)
REFUNDS = frozenset(("refund", "refundreceipt"))
# Reports carry no ids: a document is its type, number and customer (toolkit.keys).
DOCUMENT_TYPES = {
    INVOICE: "Invoice", CREDIT_MEMO: "Credit Memo", SALES_RECEIPT: "Sales Receipt"
}  # fmt: skip
_VOID_MEMO = re.compile(r"^\s*void(ed)?\b", re.IGNORECASE)
ZERO_HIDDEN = (
    " (a blank cell means the report hides zero amounts: clear 'Except zero amount' "
    "under Customize > General > Number format and export again)"
)


class QuickBooksReport(TabularAdapter):
    """Reads QuickBooks Online report exports (CSV or "Export to Excel")."""

    name = "quickbooks_report"
    label = (
        "QuickBooks Online report, CSV or Excel (Invoice List, Transaction List by "
        "Customer, Open Invoices, A/R Aging Detail, Customer Balance Detail)"
    )
    columns = COLUMNS
    # Columns only QuickBooks reports have: the fallback leaves such a CSV alone.
    markers = frozenset(
        ("transactiontype", "openbalance", "memodescription", "posting")
    )
    no_header = NO_HEADER
    max_preamble = MAX_PREAMBLE_ROWS
    row_noun = "row"
    explain_spans = False  # one row is one record

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim an Excel workbook, or a CSV whose report header is in its first rows."""
        if head.text is None:
            return head.data.startswith(b"PK\x03\x04") and b"xl/" in head.data
        try:
            rows = list(head_rows(head.text, MAX_PREAMBLE_ROWS + 6))
        except csv.Error:
            return False
        preamble: list[str] = []
        for cells in rows:
            if not any(c.strip() for c in cells):
                continue
            if is_header(cells):
                names = {normalise_header(c) for c in cells}
                titled = any(normalise_header(t) in TITLES for t in preamble)
                return titled or bool(names & REPORT_HEADERS)
            preamble.append(" ".join(c.strip() for c in cells if c.strip()))
        return False

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the export's time, then its documents and payments, row by row."""
        self.sheet: CsvSheet | XlsxSheet = open_sheet(export)
        self.accounts_seen: set[str] = set()
        self.payments_seen: Counter[tuple[str, str, date]] = Counter()
        yield from super().parse(export, options)

    # -- the passes -------------------------------------------------------------------

    def rows(self, export: ExportFile) -> Generator[Row]:
        """The sheet's rows: CSV text, or a workbook's typed cells."""
        yield from self.sheet.rows()

    @classmethod
    def is_header(cls, cells: Sequence[str]) -> bool:
        """The header's first cell is empty; it has a date and a number column."""
        return is_header(cells)

    def find_header(self, rows: Iterator[Row]) -> tuple[Row, list[str]]:
        """The header under the title rows; a report divided by 1000 is refused."""
        header, preamble = super().find_header(rows)
        refuse_divided([*preamble, *map(cell_text, header.cells)], header.line)
        return header, preamble

    def check_columns(self, table: Table) -> None:
        """Tell which report this is and check it has the columns that report needs."""
        self.title, self.kind = report_kind(table)

    def survey(self, export: ExportFile, table: Table) -> None:
        """Read the footer, then every row once (``survey``)."""
        footer_cells = self.sheet.tail()
        with contextlib.closing(self.rows(export)) as rows:
            self.found: Survey = survey(rows, table)
        table.dates = self.found.dates
        self.footer = footer_cells[0].strip() if footer_cells else self.found.footer
        self.groups = Groups(table, self.found)

    def export_info(self, table: Table) -> Iterator[Item]:
        """The report's title and period, and when it was run (its footer)."""
        return export_info(self.footer, table, self.title)

    # -- rows -------------------------------------------------------------------------

    def is_data(self, table: Table, row: Row) -> bool:
        """Data rows have an empty first cell; group, total and footer rows do not."""
        return not row_label(row)

    def structure(self, table: Table, row: Row) -> Iterator[Item]:
        """A customer group, a total to check, or the footer."""
        return self.groups.read(row, row_label(row))

    def record(self, table: Table, rows: list[Row]) -> Iterator[Item]:
        """Count a data row towards the totals above it, then read it."""
        self.groups.add(rows[0])
        return super().record(table, rows)

    def record_label(self, rows: Sequence[Values]) -> str:
        """``Invoice 1001``, ``Payment 77``, ``row`` without a type or number."""
        kind_text = rows[0].raw("type").strip()
        return f"{kind_text or 'row'} {rows[0].raw('number').strip()}".strip()

    def check_rows(self, table: Table, rows: Sequence[Row]) -> None:
        """A CSV row must have the header's width; a workbook's rows need not."""
        if self.sheet.is_csv:
            check_widths(
                rows,
                table.width,
                table.header.line,
                noun=self.row_noun,
                ends_cleanly=self.sheet.ends_with_newline,
            )

    def build(self, rows: Sequence[Values]) -> list[Item]:
        """Everything one data row yields; a CellError rejects all of it."""
        row = rows[0]
        kind_text = row.raw("type").strip()
        number = row.raw("number").strip()
        columns = row.table.columns
        kind = normalise_header(kind_text) if "type" in columns else INVOICE
        posting = normalise_header(row.raw("posting"))
        if posting == "no" or kind in NON_POSTING:
            why = "Posting = No" if posting == "no" else "it does not post to A/R"
            return [Note(f"skipped {kind_text or 'a row'} {number}: {why}", row.line)]
        if not kind:
            raise CellError(
                "", "a transaction type such as Invoice, Payment or Credit Memo", "type"
            )
        amount = _money(row, "amount")
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
        currency = _currency(row)
        issued = row.required("date", "the transaction date")
        memo = row.text("memo")
        open_balance = (
            _money(row, "open_balance") if "open_balance" in columns else None
        )
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

    def finish(self, table: Table) -> Iterator[Item]:
        """How many totals were checked; a warning when the footer is missing."""
        return self.groups.finish()

    # -- records ----------------------------------------------------------------------

    def _documents(
        self,
        row: Values,
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
            due_date=row["due_date"],
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
        row: Values,
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

    def _account(self, row: Values) -> AccountRecord:
        if "customer" in row.table.columns:
            name = nfc_key(row.raw("customer"))
            if not name:
                raise CellError("", "the customer's name", "customer")
        else:
            path = self.groups.path()
            if not path:
                raise CellError(
                    "", "a customer: a customer group row above this row", "customer"
                )
            # QuickBooks may print a sub-customer's full "Parent:Child" name or only
            # its own name inside its parent's group.
            name = path[-1] if ":" in path[-1] else ":".join(path)
        return quickbooks_account(name)


def _money(row: Values, column: str) -> Decimal:
    value = row.amount(column)
    if value is None:
        raise CellError("", f"an amount{ZERO_HIDDEN}", column)
    return value


def _currency(row: Values) -> str:
    home = row.table.options.default_currency
    code = row.raw("currency").strip().upper()
    if code and code != home:
        raise CellError(
            code,
            f"a {home} transaction: the report's amounts are in the home currency, "
            f"so a {code} document's own amounts are not in this file (import it "
            "from the QuickBooks API instead)",
            "currency",
        )
    return home
