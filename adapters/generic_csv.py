"""billfold's own CSV contract, for billing tools that are not QuickBooks or Xero.

Columns are found by normalised header name (README, "Generic CSV"): one row per
document, or one row per line item with the header fields repeated and a ``line_no``
column. A ``record_type`` column mixes invoices, credit notes and payments; payments and
credit notes name the invoices they settle in ``applies_to`` (``1006=721.15;1014=278.85``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

from adapters.base import ExportFile, Head, ParseOptions
from adapters.cells import FileDates, parse_amount, parse_timestamp
from adapters.columns import map_columns, nfc_key, normalise_header
from adapters.csv_rows import Row, read_rows
from adapters.errors import CellError, FileRejected
from adapters.keys import is_placeholder_id, real_id
from schemas.money import is_currency_code
from schemas.records import (
    AccountRecord,
    AllocationRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    LineRecord,
    Note,
    PaymentRecord,
    Rejection,
)

SYNONYMS: dict[str, tuple[str, ...]] = {
    "record_type": ("type", "documenttype", "doctype", "recordtype", "transactiontype"),
    "id": ("documentid", "invoiceid", "recordid", "transactionid", "externalid"),
    "number": (
        "invoice", "invoicenumber", "invoiceno", "invoicenum", "docnumber",
        "documentnumber", "docno", "num", "no",
    ),
    "customer_id": (
        "account", "accountid", "customerid", "clientid", "accountnumber",
        "customernumber", "accountno", "customerno",
    ),
    "customer_name": (
        "customer", "client", "contact", "contactname", "name", "customername",
        "clientname", "accountname", "billto",
    ),
    "customer_email": (
        "email", "customeremail", "emailaddress", "contactemail", "billingemail",
    ),
    "parent_id": ("parentaccountid", "parentcustomerid"),
    "parent_name": ("parent", "parentaccount", "parentcustomer", "parentname"),
    "site": ("location", "servicelocation", "sitename", "job", "property", "serviceaddress"),
    "issue_date": (
        "date", "invoicedate", "issuedate", "txndate", "transactiondate", "documentdate",
        "issued",
    ),
    "due_date": ("due", "duedate", "paymentdue", "dueon"),
    "currency": ("ccy", "currencycode"),
    "status": ("state",),
    "subtotal": ("net", "netamount", "amountexcltax", "amountbeforetax"),
    "tax": ("taxamount", "taxtotal", "vat", "gst", "salestax", "totaltax"),
    "total": ("amount", "invoicetotal", "grandtotal", "totalamount", "gross"),
    "amount_paid": ("paid", "paidamount", "amountreceived", "paymentsreceived"),
    "amount_credited": ("credited", "creditapplied", "creditsapplied"),
    "balance_due": (
        "amountdue", "openbalance", "balance", "outstanding", "unapplied",
        "remainingcredit", "remaining",
    ),
    "applies_to": ("allocations", "appliedto", "appliesto"),
    "payment_method": ("method", "paymenttype", "paidby"),
    "reference": ("po", "ponumber", "purchaseorder", "customerreference", "ref", "yourref"),
    "memo": ("description", "notes", "note", "message", "comment"),
    "pay_url": ("paymentlink", "paylink", "paymenturl", "onlinepaymentlink", "payonline"),
    "updated_at": ("lastupdated", "updated", "modified", "lastmodified", "modifiedat"),
    "line_no": ("linenumber", "line", "lineposition"),
    "line_description": ("itemdescription", "linememo"),
    "line_item": ("item", "itemcode", "product", "sku", "service"),
    "line_quantity": ("quantity", "qty"),
    "line_unit_price": ("unitprice", "rate", "price", "unitamount"),
    "line_amount": ("linetotal", "extendedamount", "lineamountexcltax"),
    "line_tax": ("linetaxamount",),
}  # fmt: skip

REQUIRED = ("number", "issue_date", "total")
LINE_COLUMNS = (
    "line_description", "line_item", "line_quantity", "line_unit_price", "line_amount",
    "line_tax",
)  # fmt: skip
DATE_COLUMNS = ("issue_date", "due_date")
# Headers only QuickBooks or Xero write; a file that has them belongs to those adapters.
VENDOR_MARKERS = frozenset(
    normalise_header(h)
    for h in (
        "InvoiceAmountPaid", "InvoiceAmountDue", "POAddressLine1", "InventoryItemCode",
        "TaxType", "TrackingName1", "BrandingTheme", "Transaction Type", "Open Balance",
        "Memo/Description", "!TRNS", "TRNSTYPE", "Posting",
    )
)  # fmt: skip

_FOOTER_WORDS = ("total", "grand total", "subtotal", "totals")
TYPES = {
    "invoice": "invoice", "inv": "invoice", "salesinvoice": "invoice",
    "creditnote": "credit_note", "creditmemo": "credit_note", "credit": "credit_note",
    "cn": "credit_note", "salescreditnote": "credit_note",
    "payment": "payment", "receipt": "payment", "paymentreceived": "payment",
}  # fmt: skip
INVOICE_STATUS = {
    "": ("issued", None), "draft": ("draft", None),
    "void": ("void", None), "voided": ("void", None), "cancelled": ("void", None),
    "canceled": ("void", None), "deleted": ("deleted", None),
    "paid": ("issued", True),
    "open": ("issued", False), "unpaid": ("issued", False), "sent": ("issued", False),
    "issued": ("issued", False), "awaitingpayment": ("issued", False),
    "due": ("issued", False), "outstanding": ("issued", False),
    "overdue": ("issued", False),
    "partiallypaid": ("issued", None), "partial": ("issued", None),
}  # fmt: skip
CREDIT_STATUS = {
    "": ("issued", None), "draft": ("draft", None), "void": ("void", None),
    "voided": ("void", None), "deleted": ("deleted", None),
    "open": ("issued", "open"), "unused": ("issued", "open"),
    "applied": ("issued", "applied"), "used": ("issued", "applied"),
    "paid": ("issued", "applied"), "refunded": ("issued", "applied"),
    "partiallyapplied": ("issued", None), "partial": ("issued", None),
}  # fmt: skip
PAYMENT_STATUS = {
    "": "active", "received": "active", "completed": "active", "cleared": "active",
    "paid": "active", "deposited": "active", "void": "void", "voided": "void",
    "bounced": "void", "reversed": "void", "cancelled": "void", "canceled": "void",
    "deleted": "deleted",
}  # fmt: skip


class GenericCsv:
    """Reads billfold's generic CSV contract."""

    name = "generic_csv"
    label = "generic CSV"

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a CSV whose first row maps to number, customer, date and total."""
        if head.text is None:
            return False
        first = _first_header(head.text)
        if first is None:
            return False
        norms = {normalise_header(h) for h in first}
        if norms & VENDOR_MARKERS:
            return False
        found, _ = map_columns(first, SYNONYMS)
        has_customer = "customer_name" in found or "customer_id" in found
        return has_customer and all(c in found for c in REQUIRED)

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the documents and payments of a generic CSV export."""
        with export.open_text() as file:
            rows = read_rows(file)
            header_row = next((r for r in rows if not r.blank), None)
            if header_row is None:
                raise FileRejected("the file is empty; expected a header row")
            columns = self._columns(header_row, options)
            names = {c: header_row.cells[i].strip() for c, i in columns.items()}
            yield ExportInfo(columns={**names, "payment.reference": names["number"]})
            dates = self._date_order(export, columns, header_row, options)
            reader = _Reader(columns, header_row, dates, options)
            yield from reader.records(rows)

    def _columns(self, header_row: Row, options: ParseOptions) -> dict[str, int]:
        found, problems = map_columns(header_row.cells, SYNONYMS, options.columns)
        if problems:
            raise FileRejected("; ".join(problems), line=header_row.line)
        missing = [c for c in REQUIRED if c not in found]
        if "customer_name" not in found and "customer_id" not in found:
            missing.append("customer_name (or customer_id)")
        if missing:
            expected = ", ".join(missing)
            raise FileRejected(
                f"missing required column(s) {expected}; the header has "
                f"{', '.join(repr(c) for c in header_row.cells)}. Rename the columns or "
                "map them under [sources.columns] in the config",
                line=header_row.line,
            )
        memo = found.get("memo")
        if (
            "line_no" in found
            and "line_description" not in found
            and memo is not None
            and normalise_header(header_row.cells[memo]) == "description"
        ):
            # In a one-row-per-line file a plain "Description" describes the line.
            found["line_description"] = found.pop("memo")
        lines_present = [c for c in LINE_COLUMNS if c in found]
        if lines_present and "line_no" not in found:
            raise FileRejected(
                f"line columns ({', '.join(lines_present)}) need a line_no column so "
                "rows of one document can be told apart",
                line=header_row.line,
            )
        return found

    def _date_order(
        self,
        export: ExportFile,
        columns: dict[str, int],
        header_row: Row,
        options: ParseOptions,
    ) -> FileDates:
        """Scan the date cells (stopping once the file proves an order)."""
        indexes = [columns[c] for c in DATE_COLUMNS if c in columns]
        dates = FileDates(options.date_order)
        with export.open_text() as file:
            for row in read_rows(file):
                if row.line <= header_row.line:
                    continue
                for i in indexes:
                    if i < len(row.cells):
                        dates.scan(row.cells[i], row.line)
                if dates.decided:
                    break
        dates.settle()
        return dates


def _first_header(text: str) -> list[str] | None:
    try:
        for cells in csv.reader(io.StringIO(text)):
            if any(c.strip() for c in cells):
                return cells
    except csv.Error:
        return None
    return None


class _Reader:
    """Turn rows into records for one file (columns and date order decided)."""

    def __init__(
        self,
        columns: dict[str, int],
        header_row: Row,
        dates: FileDates,
        options: ParseOptions,
    ) -> None:
        self.columns = columns
        self.width = len(header_row.cells)
        self.header_line = header_row.line
        self.dates = dates
        self.options = options
        self.by_lines = "line_no" in columns
        line_fields = {"line_no", *LINE_COLUMNS}
        self.header_fields = [
            (c, i) for c, i in columns.items() if c not in line_fields
        ]

    # -- rows to groups -------------------------------------------------------------

    def records(self, rows: Iterator[Row]) -> Iterator[Item]:
        group: list[Row] = []
        group_key: tuple[str, str] | None = None
        for row in rows:
            if row.blank:
                continue
            if self._is_footer(row):
                if group:
                    yield from self._group(group)
                    group = []
                yield Note(f"skipped a total/footer row: {_preview(row)}", row.line)
                continue
            key = (
                self._cell(row, "record_type").strip().lower(),
                self._cell(row, "number").strip(),
            )
            if group and (not self.by_lines or key != group_key):
                yield from self._group(group)
                group = []
            group.append(row)
            group_key = key
        if group:
            yield from self._group(group)

    def _is_footer(self, row: Row) -> bool:
        """A totals row: its number (or, with no number, its first text) says total."""
        number = self._cell(row, "number").strip().lower()
        first = number or next((c.strip().lower() for c in row.cells if c.strip()), "")
        return first.startswith(_FOOTER_WORDS) and not any(ch.isdigit() for ch in first)

    def _cell(self, row: Row, column: str) -> str:
        index = self.columns.get(column)
        if index is None or index >= len(row.cells):
            return ""
        return row.cells[index]

    def _group(self, rows: list[Row]) -> Iterator[Item]:
        first = rows[0]
        number = self._cell(first, "number").strip()
        kind_text = self._cell(first, "record_type")
        label = f"{kind_text.strip() or 'invoice'} {number}".strip()
        try:
            self._check_shape(rows)
            kind = TYPES.get(normalise_header(kind_text) or "invoice")
            if kind is None:
                raise CellError(
                    kind_text,
                    "record_type invoice, credit_note or payment",
                    "record_type",
                )
            if not number:
                raise CellError("", "a document or payment number", "number")
            self._check_repeated_fields(rows)
            if kind == "payment":
                yield self._payment(rows)
            else:
                yield self._document(kind, rows)
        except CellError as exc:
            yield Rejection(
                reason=self._reason(exc, rows),
                line=first.line,
                record=label,
                column=exc.column,
                value=exc.value,
            )

    def _reason(self, exc: CellError, rows: list[Row]) -> str:
        reason = f"expected {exc.expected}"
        if rows[-1].last_line > rows[0].line + len(rows) - 1 + 5:
            reason += (
                f" (this record spans lines {rows[0].line}-{rows[-1].last_line}; an "
                "unmatched quote may have swallowed the rows in between)"
            )
        return reason

    def _check_shape(self, rows: list[Row]) -> None:
        for row in rows:
            if row.truncated or (row.at_eof and len(row.cells) < self.width):
                raise CellError(
                    _preview(row),
                    f"a complete record, but the file ends in the middle of line "
                    f"{row.line} (truncated export?)",
                )
            if len(row.cells) < self.width:
                raise CellError(
                    _preview(row),
                    f"{self.width} fields as in the header (line {self.header_line}), "
                    f"found {len(row.cells)} on line {row.line}",
                )
            if len(row.cells) > self.width and any(
                c.strip() for c in row.cells[self.width :]
            ):
                raise CellError(
                    _preview(row),
                    f"{self.width} fields as in the header, found {len(row.cells)} on "
                    f"line {row.line} (an unquoted comma?)",
                )

    def _check_repeated_fields(self, rows: list[Row]) -> None:
        """Rows of one document must agree on every document-level field."""
        first = rows[0]
        for row in rows[1:]:
            for column, index in self.header_fields:
                a, b = first.cells[index].strip(), row.cells[index].strip()
                if a != b:
                    raise CellError(
                        b,
                        f"the same {column} on every row of this document ({a!r} on "
                        f"line {first.line}, {b!r} on line {row.line})",
                        column,
                    )

    # -- cells --------------------------------------------------------------------

    def _amount(self, row: Row, column: str) -> Decimal | None:
        text = self._cell(row, column)
        try:
            return parse_amount(text)
        except CellError as exc:
            raise CellError(text, exc.expected, column) from None

    def _date(self, row: Row, column: str) -> date | None:
        return self.dates.parse(self._cell(row, column), column, row.line)

    def _required(self, value: object, row: Row, column: str, what: str) -> None:
        if value is None:
            raise CellError(self._cell(row, column), what, column)

    def _account(self, row: Row) -> AccountRecord:
        customer_id = real_id(self._cell(row, "customer_id"))
        name = nfc_key(self._cell(row, "customer_name"))
        if not customer_id and not name:
            given = self._cell(row, "customer_id").strip()  # a placeholder, or nothing
            column = "customer_id" if given else "customer_name"
            raise CellError(given, "a customer name or a real id on every row", column)
        email = self._cell(row, "customer_email").strip() or None
        parent_key = real_id(self._cell(row, "parent_id")) or None
        parent_name = nfc_key(self._cell(row, "parent_name")) or None
        if parent_key is None and parent_name:
            parent_key = parent_name
        key = customer_id or name
        site = nfc_key(self._cell(row, "site"))
        if site:
            return AccountRecord(
                key=f"{key}:{site}",
                name=site,
                email=email,
                parent_key=key,
                parent_name=name or key,
            )
        return AccountRecord(
            key=key,
            name=name or key,
            email=email,
            parent_key=parent_key,
            parent_name=parent_name or parent_key,
        )

    def _id(self, row: Row) -> str:
        text = self._cell(row, "id")
        return "" if is_placeholder_id(text) else text.strip()

    def _currency(self, row: Row) -> str:
        text = self._cell(row, "currency").strip().upper()
        if not text:
            return self.options.default_currency
        if not is_currency_code(text):
            raise CellError(
                text, "a three-letter ISO currency code such as USD", "currency"
            )
        return text

    def _allocations(
        self, row: Row, kind: str, when: date | None, credit_ref: str | None
    ) -> list[AllocationRecord]:
        text = self._cell(row, "applies_to").strip()
        if not text:
            return []
        result = []
        for part in text.replace("|", ";").split(";"):
            if not part.strip():
                continue
            ref, sep, amount_text = part.partition("=")
            try:
                amount = parse_amount(amount_text) if sep else None
            except CellError:
                amount = None
            if not ref.strip() or amount is None:
                raise CellError(
                    text,
                    "allocations written NUMBER=AMOUNT separated by ';' "
                    "(e.g. 1006=721.15;1014=278.85)",
                    "applies_to",
                )
            result.append(
                AllocationRecord(
                    kind=kind,  # type: ignore[arg-type]
                    invoice_ref=ref.strip(),
                    amount=abs(amount),
                    date=when,
                    credit_note_ref=credit_ref,
                )
            )
        return result

    def _updated_at(self, row: Row) -> datetime | None:
        text = self._cell(row, "updated_at")
        try:
            return parse_timestamp(text)
        except CellError as exc:
            raise CellError(text, exc.expected, "updated_at") from None

    # -- records --------------------------------------------------------------------

    def _document(self, kind: str, rows: list[Row]) -> DocumentRecord:
        row = rows[0]
        number = self._cell(row, "number").strip()
        issue_date = self._date(row, "issue_date")
        self._required(issue_date, row, "issue_date", "an issue date")
        total = self._amount(row, "total")
        self._required(total, row, "total", "a total")
        assert total is not None
        status_text = normalise_header(self._cell(row, "status"))
        table = INVOICE_STATUS if kind == "invoice" else CREDIT_STATUS
        if status_text not in table:
            expected = ", ".join(sorted(k for k in table if k))
            raise CellError(
                self._cell(row, "status"), f"a status: {expected}", "status"
            )
        lifecycle, hint = table[status_text]
        balance = self._amount(row, "balance_due")
        subtotal, tax = self._amount(row, "subtotal"), self._amount(row, "tax")
        paid = self._amount(row, "amount_paid")
        credited = self._amount(row, "amount_credited")
        if kind == "credit_note":
            total, subtotal, tax = abs(total), _abs(subtotal), _abs(tax)
            balance = _abs(balance)
            if balance is None and hint == "open":
                balance = total
            elif balance is None and hint == "applied":
                balance = Decimal(0)
        elif total < 0:
            raise CellError(
                self._cell(row, "total"),
                "a positive invoice total (a credit belongs in a credit_note row)",
                "total",
            )
        external_id = self._id(row) or number
        record = DocumentRecord(
            kind=kind,  # type: ignore[arg-type]
            external_id=external_id,
            number=number,
            account=self._account(row),
            issue_date=issue_date,
            due_date=self._date(row, "due_date"),
            currency=self._currency(row),
            subtotal=subtotal,
            tax=tax,
            total=total,
            lifecycle=lifecycle,  # type: ignore[arg-type]
            amount_paid=paid if kind == "invoice" else None,
            amount_credited=credited if kind == "invoice" else None,
            balance=balance,
            paid_flag=hint if kind == "invoice" else None,  # type: ignore[arg-type]
            reference=self._cell(row, "reference").strip() or None,
            memo=self._cell(row, "memo").strip() or None,
            pay_url=self._cell(row, "pay_url").strip() or None,
            updated_at=self._updated_at(row),
            line=row.line,
        )
        if kind == "credit_note":
            record.allocations = self._allocations(
                row, "credit", issue_date, external_id
            )
        if self.by_lines:
            record.lines = self._lines(rows)
        return record

    def _lines(self, rows: list[Row]) -> list[LineRecord]:
        lines: list[LineRecord] = []
        seen: dict[int, tuple[str, ...]] = {}
        for row in rows:
            text = self._cell(row, "line_no").strip()
            try:
                position = int(text)
            except ValueError:
                raise CellError(text, "a whole line number", "line_no") from None
            cells = tuple(row.cells)
            if position in seen:
                if seen[position] == cells:
                    continue  # an exact duplicate row; the document keeps one
                raise CellError(
                    text,
                    "each line_no once per document (two different rows)",
                    "line_no",
                )
            seen[position] = cells
            lines.append(
                LineRecord(
                    position=position,
                    description=self._cell(row, "line_description").strip(),
                    item=self._cell(row, "line_item").strip() or None,
                    quantity=self._amount(row, "line_quantity"),
                    unit_price=self._amount(row, "line_unit_price"),
                    amount=self._amount(row, "line_amount"),
                    tax=self._amount(row, "line_tax"),
                )
            )
        return lines

    def _payment(self, rows: list[Row]) -> PaymentRecord:
        row = rows[0]
        number = self._cell(row, "number").strip()
        received = self._date(row, "issue_date")
        self._required(received, row, "issue_date", "the date the payment was received")
        amount = self._amount(row, "total")
        self._required(amount, row, "total", "the amount received")
        assert amount is not None
        status_text = normalise_header(self._cell(row, "status"))
        if status_text not in PAYMENT_STATUS:
            expected = ", ".join(sorted(k for k in PAYMENT_STATUS if k))
            raise CellError(
                self._cell(row, "status"), f"a status: {expected}", "status"
            )
        account = self._account(row)
        external_id = self._id(row) or f"{account.key}/{number}"
        return PaymentRecord(
            external_id=external_id,
            account=account,
            date=received,
            amount=abs(amount),
            currency=self._currency(row),
            method=self._cell(row, "payment_method").strip() or None,
            reference=number,
            memo=self._cell(row, "memo").strip() or None,
            unapplied=_abs(self._amount(row, "balance_due")),
            lifecycle=PAYMENT_STATUS[status_text],  # type: ignore[arg-type]
            updated_at=self._updated_at(row),
            allocations=self._allocations(row, "cash", received, None),
            line=row.line,
        )


def _abs(value: Decimal | None) -> Decimal | None:
    return None if value is None else abs(value)


def _preview(row: Row) -> str:
    text = ",".join(row.cells)
    return text if len(text) <= 80 else text[:77] + "..."
