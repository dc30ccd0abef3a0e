"""Xero CSV: the sales invoice export and the invoice/credit-note import template.

The export (Business > Invoices > Export, 44 columns, or 36 without the ``SA*`` shipping
address) writes one row per line item with the document's fields repeated; the rows of
one document are grouped by (Type, InvoiceNumber) and must be consecutive. It carries
Total, InvoiceAmountPaid (cash) and InvoiceAmountDue, so the credited amount is derived
(Total - paid - due). Credit notes are ``Sales credit note`` rows, written positive or
negative; which invoices they went to is not in the file.

The import template (``*ContactName``, ``*InvoiceNumber``... or ``CreditNoteNumber`` /
``CreditNoteDate`` for credit notes) has no paid or due amounts: payments stay unknown.
When it has no Total either, the lines make the total (and a Note says so).

Dates follow the organisation's region (D/M/Y in NZ/AU/UK, M/D/Y in the US), decided per
file from the dates themselves, else from the source's ``date_order``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, Inexact, localcontext

from adapters.base import ExportFile, Head, ParseOptions
from adapters.cells import FileDates, parse_amount
from adapters.columns import map_columns, nfc_key, normalise_header
from adapters.csv_rows import Row, read_rows
from adapters.errors import CellError, FileRejected
from schemas.money import exponent, is_currency_code
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    LineRecord,
    Note,
    Rejection,
)

# Canonical name -> normalised Xero header names (the canonical name counts too).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "contact": ("contactname",),
    "email": ("emailaddress",),
    "number": ("invoicenumber", "creditnotenumber"),
    "reference": (),
    "issue_date": ("invoicedate", "creditnotedate"),
    "due_date": ("duedate",),
    "planned_date": ("planneddate",),
    "total": (),
    "tax_total": ("taxtotal",),
    "amount_paid": ("invoiceamountpaid",),
    "amount_due": ("invoiceamountdue",),
    "item": ("inventoryitemcode",),
    "description": (),
    "quantity": (),
    "unit_amount": ("unitamount",),
    "discount": (),
    "line_amount": ("lineamount",),
    "tax_type": ("taxtype",),
    "tax_amount": ("taxamount",),
    "currency": (),
    "type": (),
    "sent": (),
    "status": (),
}
# Xero's columns -> billfold's fields (schemas.limits), to name them in rejections.
FIELDS = (
    ("contact", "customer_name"), ("contact", "customer_id"), ("email", "customer_email"),
    ("number", "number"), ("reference", "reference"), ("item", "line_item"),
    ("description", "line_description"), ("quantity", "line_quantity"),
    ("unit_amount", "line_unit_price"),
)  # fmt: skip
# How the required columns are called in a message (Xero's own header names).
XERO_NAMES = {
    "contact": "ContactName",
    "number": "InvoiceNumber (or CreditNoteNumber)",
    "issue_date": "InvoiceDate (or CreditNoteDate)",
    "total": "Total",
}
LINE_FIELDS = frozenset(
    ("item", "description", "quantity", "unit_amount", "discount", "line_amount",
     "tax_type", "tax_amount")
)  # fmt: skip
DATE_FIELDS = ("issue_date", "due_date", "planned_date")

# Headers only Xero writes. Detection needs one of them, and the generic CSV adapter's
# VENDOR_MARKERS holds every one, so the two adapters can never claim the same file.
XERO_MARKERS = frozenset(
    ("invoiceamountpaid", "invoiceamountdue", "taxtype", "brandingtheme",
     "poaddressline1", "inventoryitemcode", "trackingname1")
)  # fmt: skip
_NUMBER_HEADERS = frozenset(("invoicenumber", "creditnotenumber"))
_DATE_HEADERS = frozenset(("invoicedate", "creditnotedate"))

INVOICE_TYPES = frozenset(("salesinvoice", "invoice", "accrec"))
CREDIT_TYPES = frozenset(("salescreditnote", "creditnote", "accreccredit"))
# Status label (UI wording, or the API's word) -> (lifecycle, paid_flag).
STATUSES: dict[str, tuple[str, bool | None]] = {
    "paid": ("issued", True),
    "awaitingpayment": ("issued", None), "authorised": ("issued", None),
    "authorized": ("issued", None),
    "draft": ("draft", None), "awaitingapproval": ("draft", None),
    "submitted": ("draft", None),
    "voided": ("void", None), "void": ("void", None),
    "deleted": ("deleted", None),
}  # fmt: skip
# Rows that are not sales invoices or credit notes: skipped with a Note.
NOT_SALES_DOCUMENTS = frozenset(("prepayment", "payable"))
STATUS_EXPECTED = (
    "a Xero status: Paid, Awaiting Payment, Draft, Awaiting Approval, Voided or Deleted"
)
TYPE_EXPECTED = "a Type of Sales invoice or Sales credit note"
# A tax type whose name says it charges nothing (the template may leave TaxAmount empty).
_ZERO_TAX = re.compile(
    r"(?<![\d.])0+(?:\.0+)?\s*%|exempt|no\s*tax|zero[\s-]*rated|tax[\s-]*free|"
    r"^\s*none\s*$|no\s*gst|no\s*vat|gst\s*free",
    re.IGNORECASE,
)


class XeroCsv:
    """Reads Xero's sales invoice CSV export and its invoice import template."""

    name = "xero_csv"
    label = "Xero CSV (sales invoice export or import template)"

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a CSV whose header names a Xero contact, number, date and a Xero-only column."""
        if head.text is None:
            return False
        first = _first_header(head.text)
        if first is None:
            return False
        norms = {normalise_header(h) for h in first}
        return bool(
            "contactname" in norms
            and norms & _NUMBER_HEADERS
            and norms & _DATE_HEADERS
            and norms & XERO_MARKERS
        )

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the invoices and credit notes of a Xero CSV."""
        try:
            yield from self._parse(export, options)
        except UnicodeDecodeError as exc:
            # The encoding is sniffed from the bytes, but a UTF-16 file cut at an odd
            # byte (or with a broken surrogate) only fails once it is decoded.
            raise FileRejected(
                f"the file is not valid {export.encoding.codec} text ({exc.reason}); "
                "save the export as UTF-8 (Excel: 'CSV UTF-8') and drop it again"
            ) from None
        except csv.Error as exc:
            raise FileRejected(
                f"expected CSV text, but the file cannot be read: {exc}"
            ) from None

    def _parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        with export.open_text() as file:
            rows = read_rows(file)
            header = next((r for r in rows if not r.blank), None)
            if header is None:
                raise FileRejected(
                    "the file is empty; expected a Xero header row (ContactName, "
                    "InvoiceNumber, InvoiceDate, ...)"
                )
            layout = _layout(header, options)
            dates = _date_order(export, layout, header, options)
            named = {f: layout.names[c] for c, f in FIELDS if c in layout.names}
            yield ExportInfo(columns=named)
            yield from _Reader(layout, header, dates, options).records(rows)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Which columns a file has and what they allow."""

    columns: dict[str, int]
    names: dict[str, str]  # canonical -> the header as the file writes it
    width: int
    export: bool  # the export (paid/due amounts) rather than the import template
    default_kind: str  # from InvoiceNumber or CreditNoteNumber, when there is no Type


def _layout(header: Row, options: ParseOptions) -> _Layout:
    found, problems = map_columns(header.cells, SYNONYMS, options.columns)
    if problems:
        raise FileRejected("; ".join(problems), line=header.line)
    export = "amount_due" in found or "amount_paid" in found
    required = ["contact", "number", "issue_date"]
    if export:
        required.append("total")
    missing = [XERO_NAMES[c] for c in required if c not in found]
    can_add_lines = "line_amount" in found or (
        "quantity" in found and "unit_amount" in found
    )
    if not export and "total" not in found and not can_add_lines:
        missing.append("Total (or the lines' Quantity and UnitAmount)")
    if missing:
        raise FileRejected(
            f"missing required Xero column(s) {', '.join(missing)}; the header has "
            f"{', '.join(repr(c) for c in header.cells)}. Export the invoices again from "
            "Xero, or map the columns under [sources.columns] in the config",
            line=header.line,
        )
    names = {c: header.cells[i].replace("\ufeff", "").strip() for c, i in found.items()}
    number_header = normalise_header(names["number"])
    return _Layout(
        columns=found,
        names=names,
        width=len(header.cells),
        export=export,
        default_kind="credit_note"
        if number_header == "creditnotenumber"
        else "invoice",
    )


def _date_order(
    export: ExportFile, layout: _Layout, header: Row, options: ParseOptions
) -> FileDates:
    """Scan the date cells until they prove an order; refuse a file that fits both."""
    indexes = [layout.columns[c] for c in DATE_FIELDS if c in layout.columns]
    dates = FileDates(options.date_order)
    with export.open_text() as file:
        for row in read_rows(file):
            if row.line <= header.line:
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
    """Turn the rows of one file into documents (columns and date order decided)."""

    def __init__(
        self, layout: _Layout, header: Row, dates: FileDates, options: ParseOptions
    ) -> None:
        self.layout = layout
        self.columns = layout.columns
        self.header_line = header.line
        self.dates = dates
        self.options = options
        self.header_fields = [
            (c, i) for c, i in layout.columns.items() if c not in LINE_FIELDS
        ]

    # -- rows to groups ---------------------------------------------------------------

    def records(self, rows: Iterator[Row]) -> Iterator[Item]:
        group: list[Row] = []
        group_key: tuple[str, str] | None = None
        for row in rows:
            if row.blank:
                continue
            key = (
                normalise_header(self._cell(row, "type")),
                self._cell(row, "number").strip(),
            )
            if group_key and self._cut_short(row) and key[1] == group_key[1]:
                # The file ends inside this document's last row, before its Type:
                # the document is rejected with all its lines, not imported without one.
                key = group_key
            if group and key != group_key:
                yield from self._group(group)
                group = []
            group.append(row)
            group_key = key
        if group:
            yield from self._group(group)

    def _cut_short(self, row: Row) -> bool:
        return row.truncated or (row.at_eof and len(row.cells) < self.layout.width)

    def _cell(self, row: Row, field: str) -> str:
        index = self.columns.get(field)
        if index is None:
            return ""
        cells = row.cells
        return cells[index] if index < len(cells) else ""

    def _name(self, field: str) -> str:
        return self.layout.names.get(field, field)

    def _group(self, rows: list[Row]) -> Iterator[Item]:
        first = rows[0]
        number = self._cell(first, "number").strip()
        type_text = self._cell(first, "type").strip()
        kind = self._kind(type_text)
        if kind in NOT_SALES_DOCUMENTS:
            yield Note(_skip_message(kind, type_text, number, rows), first.line)
            return
        if kind == "invoice":
            label = f"invoice {number}".strip()
        elif kind == "credit_note":
            label = f"credit note {number}".strip()
        else:
            label = f"{type_text or 'document'} {number}".strip()
        try:
            self._check_shape(rows)
            if kind is None:
                raise CellError(type_text, TYPE_EXPECTED, self._name("type"))
            if not number:
                raise CellError("", "a document number", self._name("number"))
            self._check_repeated_fields(rows)
            rows, dropped = self._without_repeated_rows(rows)
            record, computed = self._document(kind, rows)
        except CellError as exc:
            yield Rejection(
                reason=self._reason(exc, rows),
                line=first.line,
                record=label,
                column=exc.column,
                value=exc.value,
            )
            return
        if dropped:
            where = ", ".join(str(r.line) for r in dropped)
            yield Note(
                f"{record.label}: dropped {len(dropped)} repeated row(s) on line "
                f"{where}; without them the lines add up to the document's subtotal",
                first.line,
            )
        if computed:
            yield Note(computed, first.line)
        yield record

    def _kind(self, type_text: str) -> str | None:
        """Return invoice, credit_note, prepayment, payable, or None for an unknown Type."""
        if "type" not in self.columns:
            return self.layout.default_kind
        norm = normalise_header(type_text)
        if not norm:
            return None if self.layout.export else self.layout.default_kind
        if norm in INVOICE_TYPES:
            return "invoice"
        if norm in CREDIT_TYPES:
            return "credit_note"
        if norm.endswith(("overpayment", "prepayment")) and not norm.startswith(
            ("purchase", "spend", "accpay")
        ):
            return "prepayment"
        if norm.startswith(("bill", "purchase", "accpay", "spend")):
            return "payable"
        return None

    def _reason(self, exc: CellError, rows: list[Row]) -> str:
        reason = f"expected {exc.expected}"
        if rows[-1].last_line > rows[0].line + len(rows) - 1 + 5:
            reason += (
                f" (this record spans lines {rows[0].line}-{rows[-1].last_line}; an "
                "unmatched quote may have swallowed the rows in between)"
            )
        return reason

    def _check_shape(self, rows: list[Row]) -> None:
        width = self.layout.width
        for row in rows:
            if self._cut_short(row):
                raise CellError(
                    _preview(row),
                    f"a complete record, but the file ends in the middle of line "
                    f"{row.line} (truncated export?)",
                )
            if len(row.cells) < width:
                raise CellError(
                    _preview(row),
                    f"{width} fields as in the header (line {self.header_line}), "
                    f"found {len(row.cells)} on line {row.line}",
                )
            if len(row.cells) > width and any(c.strip() for c in row.cells[width:]):
                raise CellError(
                    _preview(row),
                    f"{width} fields as in the header, found {len(row.cells)} on "
                    f"line {row.line} (an unquoted comma?)",
                )

    def _check_repeated_fields(self, rows: list[Row]) -> None:
        """Rows of one document must agree on every document-level field.

        The import template may leave them empty after the first row; the export
        always repeats them.
        """
        first = rows[0].cells
        for row in rows[1:]:
            cells = row.cells
            for field, index in self.header_fields:
                if cells[index] == first[index]:
                    continue
                a, b = first[index].strip(), cells[index].strip()
                if a != b and (self.layout.export or b):
                    raise CellError(
                        b,
                        f"the same {self._name(field)} on every row of this document "
                        f"({a!r} on line {rows[0].line}, {b!r} on line {row.line})",
                        self._name(field),
                    )

    def _without_repeated_rows(self, rows: list[Row]) -> tuple[list[Row], list[Row]]:
        """Drop exact repeated rows only when that makes the lines match the header.

        Two identical line items on one invoice are legal; a row exported twice is
        not. The lines decide: if they add up to the subtotal (or the tax-inclusive
        total) only without the repeats, the repeats were not line items.
        """
        if len(rows) == 1:
            return rows, []
        seen: set[tuple[str, ...]] = set()
        kept: list[Row] = []
        dropped: list[Row] = []
        for row in rows:
            cells = tuple(row.cells)
            if cells in seen:
                dropped.append(row)
            else:
                seen.add(cells)
                kept.append(row)
        if not dropped or "line_amount" not in self.columns:
            return rows, []
        try:
            total = self._amount(rows[0], "total")
            tax = self._amount(rows[0], "tax_total") or Decimal(0)
            amounts = {id(r): self._amount(r, "line_amount") for r in rows}
        except CellError:
            return rows, []  # the record's own reading reports the bad cell
        if total is None or None in amounts.values():
            return rows, []

        def lines_sum(chosen: list[Row]) -> Decimal:
            return abs(sum(amounts[id(r)] or Decimal(0) for r in chosen))

        targets = {abs(total), abs(total) - abs(tax)}
        if lines_sum(rows) not in targets and lines_sum(kept) in targets:
            return kept, dropped
        return rows, []

    # -- cells ------------------------------------------------------------------------

    def _amount(self, row: Row, field: str) -> Decimal | None:
        text = self._cell(row, field)
        try:
            return parse_amount(text)
        except CellError as exc:
            raise CellError(text, exc.expected, self._name(field)) from None

    def _date(self, row: Row, field: str) -> date | None:
        return self.dates.parse(self._cell(row, field), self._name(field), row.line)

    def _currency(self, row: Row) -> str:
        text = self._cell(row, "currency").strip().upper()
        if not text:
            return self.options.default_currency
        if not is_currency_code(text):
            raise CellError(
                text,
                "a three-letter ISO currency code such as NZD or USD",
                self._name("currency"),
            )
        return text

    def _status(self, row: Row) -> tuple[str, bool | None, str]:
        """Return (lifecycle, paid_flag, normalised label) from the Status cell."""
        if "status" not in self.columns:
            return "issued", None, ""
        text = self._cell(row, "status")
        norm = normalise_header(text)
        if not norm and not self.layout.export:
            return "issued", None, ""
        if norm not in STATUSES:
            raise CellError(text, STATUS_EXPECTED, self._name("status"))
        lifecycle, paid_flag = STATUSES[norm]
        return lifecycle, paid_flag, norm

    def _account(self, row: Row) -> AccountRecord:
        name = nfc_key(self._cell(row, "contact"))
        if not name:
            raise CellError("", "a ContactName on every row", self._name("contact"))
        email = self._cell(row, "email").strip() or None
        return AccountRecord(key=name, name=name, email=email)

    # -- records ----------------------------------------------------------------------

    def _document(
        self, kind: str, rows: list[Row]
    ) -> tuple[DocumentRecord, str | None]:
        """Return the document and, when the lines made its total, a Note saying so."""
        row = rows[0]
        number = self._cell(row, "number").strip()
        account = self._account(row)
        issue_date = self._date(row, "issue_date")
        if issue_date is None:
            raise CellError("", "an issue date", self._name("issue_date"))
        due_date = self._date(row, "due_date")
        currency = self._currency(row)
        lifecycle, paid_flag, status = self._status(row)
        lines = self._lines(rows)
        total = self._amount(row, "total")
        computed = None
        if total is not None:
            tax = self._amount(row, "tax_total")
        elif self.layout.export:
            raise CellError("", "a Total", self._name("total"))
        else:
            total, tax, computed = self._total_from_lines(rows, lines, currency)
        record = DocumentRecord(
            kind=kind,  # type: ignore[arg-type]
            external_id=number,
            number=number,
            account=account,
            issue_date=issue_date,
            due_date=due_date,
            currency=currency,
            total=total,
            tax=tax,
            lifecycle=lifecycle,  # type: ignore[arg-type]
            reference=self._cell(row, "reference").strip() or None,
            lines=lines,
            line=row.line,
        )
        if kind == "credit_note":
            self._credit_figures(record, row, status)
        else:
            self._invoice_figures(record, row, paid_flag, status)
        if record.total is not None and record.tax is not None:
            record.subtotal = record.total - record.tax
        if computed is not None:
            computed = f"{record.label}: {computed}"
        return record, computed

    def _invoice_figures(
        self, record: DocumentRecord, row: Row, paid_flag: bool | None, status: str
    ) -> None:
        total = record.total
        assert total is not None
        if total < 0:
            raise CellError(
                self._cell(row, "total"),
                "a positive invoice Total (a credit is a Sales credit note row)",
                self._name("total"),
            )
        paid = self._amount(row, "amount_paid")
        due = self._amount(row, "amount_due")
        for field, value in (("amount_paid", paid), ("amount_due", due)):
            if value is not None and value < 0:
                raise CellError(
                    self._cell(row, field),
                    "an amount of zero or more on an invoice",
                    self._name(field),
                )
        if status == "paid" and due:
            raise CellError(
                self._cell(row, "amount_due"),
                "InvoiceAmountDue 0.00 on an invoice whose Status is Paid",
                self._name("amount_due"),
            )
        credited = None
        if record.lifecycle in ("void", "deleted"):
            # Xero voids or deletes only invoices with nothing applied, and zeroes
            # what is due; Total - paid - due would call the whole total credited.
            credited = Decimal(0) if paid is not None else None
        elif paid is not None and due is not None:
            credited = total - paid - due
            if credited < 0:
                raise CellError(
                    self._cell(row, "amount_due"),
                    f"InvoiceAmountPaid ({paid}) + InvoiceAmountDue ({due}) no more "
                    f"than the Total ({total})",
                    self._name("amount_due"),
                )
        record.amount_paid = paid
        record.amount_credited = credited
        record.balance = due
        record.paid_flag = paid_flag

    def _credit_figures(self, record: DocumentRecord, row: Row, status: str) -> None:
        total = record.total
        assert total is not None
        negative = total < 0
        record.total = abs(total)
        record.tax = None if record.tax is None else abs(record.tax)
        due = self._amount(row, "amount_due")
        remaining = None if due is None else abs(due)
        if remaining is None and status == "paid":
            remaining = Decimal(0)  # Paid: the credit is fully used
        if remaining is not None and remaining > record.total:
            raise CellError(
                self._cell(row, "amount_due"),
                f"remaining credit (InvoiceAmountDue) no more than the Total "
                f"({record.total})",
                self._name("amount_due"),
            )
        if status == "paid" and remaining:
            raise CellError(
                self._cell(row, "amount_due"),
                "InvoiceAmountDue 0.00 on a credit note whose Status is Paid",
                self._name("amount_due"),
            )
        record.balance = remaining
        if negative:
            for line in record.lines:
                line.amount = _negate(line.amount)
                line.tax = _negate(line.tax)
                line.unit_price = _negate(line.unit_price)

    def _lines(self, rows: list[Row]) -> list[LineRecord]:
        # The hot loop of a big export: column positions looked up once per document
        # (every row has the header's width by now: _check_shape ran).
        at = self.columns.get
        description, item = at("description"), at("item")
        amounts = [
            (field, at(field))
            for field in ("quantity", "unit_amount", "line_amount", "tax_amount")
        ]
        lines = []
        for position, row in enumerate(rows, start=1):
            cells = row.cells
            values = []
            for field, index in amounts:
                if index is None:
                    values.append(None)
                    continue
                try:
                    values.append(parse_amount(cells[index]))
                except CellError as exc:
                    raise CellError(
                        cells[index], exc.expected, self._name(field)
                    ) from None
            lines.append(
                LineRecord(
                    position=position,
                    description=""
                    if description is None
                    else cells[description].strip(),
                    item=None if item is None else cells[item].strip() or None,
                    quantity=values[0],
                    unit_price=values[1],
                    amount=values[2],
                    tax=values[3],
                )
            )
        return lines

    def _total_from_lines(
        self, rows: list[Row], lines: list[LineRecord], currency: str
    ) -> tuple[Decimal, Decimal, str]:
        """The template without a Total: lines (tax-exclusive) plus their tax."""
        zero = Decimal(0).quantize(Decimal(1).scaleb(-exponent(currency)))
        subtotal = tax = zero
        for row, line in zip(rows, lines, strict=True):
            amount = line.amount
            if amount is None:
                if line.quantity is None or line.unit_price is None:
                    raise CellError(
                        self._cell(
                            row, "quantity" if line.quantity is None else "unit_amount"
                        ),
                        "a Quantity and UnitAmount on every line (the document has no "
                        "Total, so its lines make it)",
                        self._name(
                            "quantity" if line.quantity is None else "unit_amount"
                        ),
                    )
                amount = _exact_line_amount(
                    line.quantity, line.unit_price, self._amount(row, "discount")
                )
                if amount is None:
                    raise CellError(
                        self._cell(row, "unit_amount"),
                        "a Total: this line's Quantity x UnitAmount has more digits "
                        "than billfold can hold exactly",
                        self._name("total"),
                    )
            line_tax = line.tax
            if line_tax is None:
                tax_type = self._cell(row, "tax_type").strip()
                if not _ZERO_TAX.search(tax_type):
                    raise CellError(
                        self._cell(row, "tax_amount"),
                        f"a TaxAmount on line {row.line} (the document has no Total and "
                        f"tax type {tax_type or '(none)'!r} is not zero-rated; billfold "
                        "does not compute tax)",
                        self._name("tax_amount"),
                    )
                line_tax = zero
            subtotal += amount
            tax += line_tax
        total = subtotal + tax
        places = exponent(currency)
        if total != total.quantize(Decimal(1).scaleb(-places)):
            raise CellError(
                str(total),
                f"a Total: the lines add up to {total}, which {currency} cannot hold "
                "without rounding, and billfold does not guess how Xero rounds",
                self._name("total"),
            )
        return (
            total,
            tax,
            f"the file has no Total; billfold added up the lines (tax-exclusive "
            f"amounts {subtotal} + tax {tax} = {total})",
        )


def _exact_line_amount(
    quantity: Decimal, unit: Decimal, discount: Decimal | None
) -> Decimal | None:
    """Quantity x UnitAmount less a Discount percentage, or None if it would round."""
    with localcontext() as context:
        context.traps[Inexact] = True
        try:
            amount = quantity * unit
            if discount:
                amount = amount * (100 - discount) / 100
        except Inexact:
            return None
    return amount


def _negate(value: Decimal | None) -> Decimal | None:
    return None if value is None else -value


def _skip_message(kind: str, type_text: str, number: str, rows: list[Row]) -> str:
    lines = f" (lines {rows[0].line}-{rows[-1].line})" if len(rows) > 1 else ""
    what = f"{type_text} {number}".strip()
    if kind == "payable":
        return (
            f"refused {what}{lines}: billfold reads sales (accounts receivable), "
            "not bills"
        )
    return (
        f"skipped {what}{lines}: overpayments and prepayments are not invoices; "
        "credit left on them is not in billfold's balances"
    )


def _preview(row: Row) -> str:
    text = ",".join(row.cells)
    return text if len(text) <= 80 else text[:77] + "..."
