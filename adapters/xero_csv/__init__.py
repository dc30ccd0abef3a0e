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

import re
from collections.abc import Hashable, Iterator, Sequence
from decimal import Decimal, Inexact, localcontext
from typing import Any

from adapters.base import Head, Resemblance
from adapters.errors import CellError, FileRejected
from adapters.toolkit.cells import parse_amount
from adapters.toolkit.columns import Column, Columns, nfc_key, normalise_header
from adapters.toolkit.csv_rows import Row
from adapters.toolkit.table import Table, Values, check_agreement
from adapters.toolkit.tabular import TabularAdapter, first_row
from adapters.xero_csv.plain import PlainDocuments, negate_lines
from schemas.money import exponent
from schemas.records import AccountRecord, DocumentRecord, Item, LineRecord, Note

# Canonical name, normalised Xero header names, how cells read, billfold's fields (to
# name Xero's columns in rejections). Line columns may differ between a document's rows.
COLUMNS = Columns(
    Column("contact", ("contactname",), fields=("customer_name", "customer_id")),
    Column("email", ("emailaddress",), fields=("customer_email",)),
    Column("number", ("invoicenumber", "creditnotenumber"), fields=("number",)),
    Column("reference", fields=("reference",)),
    Column("issue_date", ("invoicedate", "creditnotedate"), "date"),
    Column("due_date", ("duedate",), "date"),
    Column("planned_date", ("planneddate",), "date"),
    Column("total", kind="amount"),
    Column("tax_total", ("taxtotal",), "amount"),
    Column("amount_paid", ("invoiceamountpaid",), "amount"),
    Column("amount_due", ("invoiceamountdue",), "amount"),
    Column("item", ("inventoryitemcode",), line=True, fields=("line_item",)),
    Column("description", line=True, fields=("line_description",)),
    Column("quantity", kind="amount", line=True, fields=("line_quantity",)),
    Column("unit_amount", ("unitamount",), "amount", line=True, fields=("line_unit_price",)),
    Column("discount", kind="amount", line=True),
    Column("line_amount", ("lineamount",), "amount", line=True),
    Column("tax_type", ("taxtype",), line=True),
    Column("tax_amount", ("taxamount",), "amount", line=True),
    Column("currency", kind="currency"),
    Column("type"),
    Column("sent"),
    Column("status"),
)  # fmt: skip
# How the required columns are called in a message (Xero's own header names).
XERO_NAMES = {
    "contact": "ContactName",
    "number": "InvoiceNumber (or CreditNoteNumber)",
    "issue_date": "InvoiceDate (or CreditNoteDate)",
    "total": "Total",
}

# Headers only Xero writes. Detection needs one of them; they are also the adapter's
# markers, so the fallback (generic CSV) leaves a Xero file this adapter refuses alone.
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


def _is_export(table: Table) -> bool:
    """The export (it has paid and due amounts) rather than the import template."""
    return "amount_due" in table.columns or "amount_paid" in table.columns


class XeroCsv(TabularAdapter):
    """Reads Xero's sales invoice CSV export and its invoice import template."""

    name = "xero_csv"
    label = "Xero CSV (sales invoice export or import template)"
    columns = COLUMNS
    markers = XERO_MARKERS
    fast = True  # read the export's plain documents straight from their cells
    plain: PlainDocuments | None = None  # that fast path, set per file
    no_header = (
        "the file is empty; expected a Xero header row (ContactName, InvoiceNumber, "
        "InvoiceDate, ...)"
    )

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a CSV whose header names a Xero contact, number, date and a Xero-only column."""
        first = first_row(head.text)
        if first is None:
            return False
        norms = {normalise_header(h) for h in first}
        return bool(
            "contactname" in norms
            and norms & _NUMBER_HEADERS
            and norms & _DATE_HEADERS
            and norms & XERO_MARKERS
        )

    @classmethod
    def resemblance(cls, head: Head) -> Resemblance | None:
        """Xero's contact, number and date headers without a column only Xero writes."""
        first = first_row(head.text)
        if first is None:
            return None
        norms = {normalise_header(h) for h in first}
        shared = [
            "contactname" in norms,
            bool(norms & _NUMBER_HEADERS),
            bool(norms & _DATE_HEADERS),
        ]
        if sum(shared) < 2 or norms & XERO_MARKERS:
            return None
        lacks = [
            name
            for name, present in zip(
                ("ContactName", "InvoiceNumber", "InvoiceDate"), shared, strict=True
            )
            if not present
        ]
        return Resemblance(
            0.5 + 0.1 * sum(shared),
            "has none of the columns only Xero writes (TaxType, InvoiceAmountDue, "
            "InventoryItemCode, ...)"
            + (f" and no {', '.join(lacks)}" if lacks else "")
            + "; if it is a Xero file, choose the adapter with --adapter xero_csv "
            '(or adapter = "xero_csv" in the source\'s config)',
        )

    def check_columns(self, table: Table) -> None:
        """The export needs a Total; the template a Total or lines that make one."""
        found = table.columns
        export = _is_export(table)
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
                f"{', '.join(repr(c) for c in table.header.cells)}. Export the invoices "
                "again from Xero, or map the columns under [sources.columns] in the "
                "config",
                line=table.header.line,
            )

    # -- rows to documents ------------------------------------------------------------

    def records(self, table: Table, rows: Iterator[Row]) -> Iterator[Item]:
        """The export's plain documents are read straight from their cells (xero_csv.plain)."""
        self.plain = (
            PlainDocuments(table, lambda text: _kind(table, text), STATUSES)
            if self.fast and _is_export(table)
            else None
        )
        yield from super().records(table, rows)

    def group_key(
        self, table: Table, row: Row, previous: Hashable | None
    ) -> Hashable | None:
        """A document's rows share Type and InvoiceNumber and are consecutive."""
        key = (
            normalise_header(table.cell(row, "type")),
            table.cell(row, "number").strip(),
        )
        if (
            isinstance(previous, tuple)
            and (row.truncated or (row.at_eof and len(row.cells) < table.width))
            and key[1] == previous[1]
        ):
            # The file ends inside this document's last row, before its Type:
            # the document is rejected with all its lines, not imported without one.
            return previous
        return key

    def record(self, table: Table, rows: list[Row]) -> Iterator[Item]:
        """Skip overpayments, prepayments and bills with a note; read the rest."""
        plain = self.plain and self.plain.document(rows)
        if plain:
            yield plain
            return
        first = Values(table, rows[0])
        type_text = first.raw("type").strip()
        kind = _kind(table, type_text)
        if kind in NOT_SALES_DOCUMENTS:
            number = first.raw("number").strip()
            yield Note(_skip_message(kind, type_text, number, rows), first.line)
            return
        yield from super().record(table, rows)

    def record_label(self, rows: Sequence[Values]) -> str:
        """``invoice INV-1004``, ``credit note CN-7``."""
        first = rows[0]
        number = first.raw("number").strip()
        type_text = first.raw("type").strip()
        kind = _kind(first.table, type_text)
        if kind == "invoice":
            return f"invoice {number}".strip()
        if kind == "credit_note":
            return f"credit note {number}".strip()
        return f"{type_text or 'document'} {number}".strip()

    def build(self, rows: Sequence[Values]) -> Iterator[Item]:
        """One invoice or credit note from its rows, with notes on what was inferred."""
        first = rows[0]
        table = first.table
        type_text = first.raw("type").strip()
        kind = _kind(table, type_text)
        if kind is None:
            raise CellError(type_text, TYPE_EXPECTED, "type")
        if not first.raw("number").strip():
            raise CellError("", "a document number", "number")
        check_agreement(rows, blank_continues=not _is_export(table))
        rows, dropped = _without_repeated_rows(rows)
        record, computed = self._document(kind, rows)
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

    # -- cells ------------------------------------------------------------------------

    def _status(self, row: Values) -> tuple[str, bool | None, str]:
        """Return (lifecycle, paid_flag, normalised label) from the Status cell."""
        if "status" not in row.table.columns:
            return "issued", None, ""
        text = row.raw("status")
        norm = normalise_header(text)
        if not norm and not _is_export(row.table):
            return "issued", None, ""
        if norm not in STATUSES:
            raise CellError(text, STATUS_EXPECTED, "status")
        lifecycle, paid_flag = STATUSES[norm]
        return lifecycle, paid_flag, norm

    def _account(self, row: Values) -> AccountRecord:
        name = nfc_key(row.raw("contact"))
        if not name:
            raise CellError("", "a ContactName on every row", "contact")
        return AccountRecord(key=name, name=name, email=row.text("email"))

    # -- records ----------------------------------------------------------------------

    def _document(
        self, kind: str, rows: Sequence[Values]
    ) -> tuple[DocumentRecord, str | None]:
        """Return the document and, when the lines made its total, a Note saying so."""
        row = rows[0]
        number = row.raw("number").strip()
        account = self._account(row)
        issue_date = row["issue_date"]
        if issue_date is None:
            raise CellError("", "an issue date", "issue_date")
        due_date = row["due_date"]
        currency = row.currency("currency", "NZD or USD")
        lifecycle, paid_flag, status = self._status(row)
        lines = _lines(rows)
        total = row["total"]
        computed = None
        if total is not None:
            tax = row["tax_total"]
        elif _is_export(row.table):
            raise CellError("", "a Total", "total")
        else:
            total, tax, computed = _total_from_lines(rows, lines, currency)
        record = DocumentRecord(
            kind=kind,  # type: ignore[arg-type]  # one of DocumentKind's values, mapped above
            external_id=number,
            number=number,
            account=account,
            issue_date=issue_date,
            due_date=due_date,
            currency=currency,
            total=total,
            tax=tax,
            lifecycle=lifecycle,  # type: ignore[arg-type]  # one of Lifecycle's values, mapped above
            reference=row.text("reference"),
            lines=lines,
            line=row.line,
        )
        if kind == "credit_note":
            _credit_figures(record, row, status)
        else:
            _invoice_figures(record, row, paid_flag, status)
        if record.total is not None and record.tax is not None:
            record.subtotal = record.total - record.tax
        if computed is not None:
            computed = f"{record.label}: {computed}"
        return record, computed


def _kind(table: Table, type_text: str) -> str | None:
    """Return invoice, credit_note, prepayment, payable, or None for an unknown Type."""
    if "type" not in table.columns:
        return _default_kind(table)
    norm = normalise_header(type_text)
    if not norm:
        return None if _is_export(table) else _default_kind(table)
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


def _default_kind(table: Table) -> str:
    """Without a Type: what the number column says (InvoiceNumber or CreditNoteNumber)."""
    if normalise_header(table.names["number"]) == "creditnotenumber":
        return "credit_note"
    return "invoice"


def _without_repeated_rows(
    rows: Sequence[Values],
) -> tuple[Sequence[Values], list[Values]]:
    """Drop exact repeated rows only when that makes the lines match the header.

    Two identical line items on one invoice are legal; a row exported twice is
    not. The lines decide: if they add up to the subtotal (or the tax-inclusive
    total) only without the repeats, the repeats were not line items.
    """
    if len(rows) == 1:
        return rows, []
    seen: set[tuple[str, ...]] = set()
    kept: list[Values] = []
    dropped: list[Values] = []
    for row in rows:
        cells = tuple(row.row.cells)
        if cells in seen:
            dropped.append(row)
        else:
            seen.add(cells)
            kept.append(row)
    if not dropped or "line_amount" not in rows[0].table.columns:
        return rows, []
    try:
        total = rows[0]["total"]
        tax = rows[0]["tax_total"] or Decimal(0)
        amounts = {id(r): r["line_amount"] for r in rows}
    except CellError:
        return rows, []  # the record's own reading reports the bad cell
    if total is None or None in amounts.values():
        return rows, []

    def lines_sum(chosen: Sequence[Values]) -> Decimal:
        return abs(sum(amounts[id(r)] or Decimal(0) for r in chosen))

    targets = {abs(total), abs(total) - abs(tax)}
    if lines_sum(rows) not in targets and lines_sum(kept) in targets:
        return kept, dropped
    return rows, []


def _invoice_figures(
    record: DocumentRecord, row: Values, paid_flag: bool | None, status: str
) -> None:
    total = record.total
    assert total is not None
    if total < 0:
        raise CellError(
            row.raw("total"),
            "a positive invoice Total (a credit is a Sales credit note row)",
            "total",
        )
    paid = row["amount_paid"]
    due = row["amount_due"]
    for field, value in (("amount_paid", paid), ("amount_due", due)):
        if value is not None and value < 0:
            raise CellError(
                row.raw(field), "an amount of zero or more on an invoice", field
            )
    if status == "paid" and due:
        raise CellError(
            row.raw("amount_due"),
            "InvoiceAmountDue 0.00 on an invoice whose Status is Paid",
            "amount_due",
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
                row.raw("amount_due"),
                f"InvoiceAmountPaid ({paid}) + InvoiceAmountDue ({due}) no more "
                f"than the Total ({total})",
                "amount_due",
            )
    record.amount_paid = paid
    record.amount_credited = credited
    record.balance = due
    record.paid_flag = paid_flag


def _credit_figures(record: DocumentRecord, row: Values, status: str) -> None:
    total = record.total
    assert total is not None
    negative = total < 0
    record.total = abs(total)
    record.tax = None if record.tax is None else abs(record.tax)
    due = row["amount_due"]
    remaining = None if due is None else abs(due)
    if remaining is None and status == "paid":
        remaining = Decimal(0)  # Paid: the credit is fully used
    if remaining is not None and remaining > record.total:
        raise CellError(
            row.raw("amount_due"),
            f"remaining credit (InvoiceAmountDue) no more than the Total "
            f"({record.total})",
            "amount_due",
        )
    if status == "paid" and remaining:
        raise CellError(
            row.raw("amount_due"),
            "InvoiceAmountDue 0.00 on a credit note whose Status is Paid",
            "amount_due",
        )
    record.balance = remaining
    if negative:
        negate_lines(record)


def _lines(rows: Sequence[Values]) -> list[LineRecord]:
    # The hot loop of a big export: column positions looked up once per document
    # (every row has the header's width by now: the widths were checked).
    at = rows[0].table.columns.get
    description, item = at("description"), at("item")
    amounts = [
        (field, at(field))
        for field in ("quantity", "unit_amount", "line_amount", "tax_amount")
    ]
    lines = []
    for position, row in enumerate(rows, start=1):
        cells = row.row.cells
        values: list[Any] = []
        for field, index in amounts:
            if index is None:
                values.append(None)
                continue
            try:
                values.append(parse_amount(cells[index]))
            except CellError as exc:
                raise CellError(cells[index], exc.expected, field) from None
        lines.append(
            LineRecord(
                position=position,
                description="" if description is None else cells[description].strip(),
                item=None if item is None else cells[item].strip() or None,
                quantity=values[0],
                unit_price=values[1],
                amount=values[2],
                tax=values[3],
            )
        )
    return lines


def _total_from_lines(
    rows: Sequence[Values], lines: list[LineRecord], currency: str
) -> tuple[Decimal, Decimal, str]:
    """The template without a Total: lines (tax-exclusive) plus their tax."""
    zero = Decimal(0).quantize(Decimal(1).scaleb(-exponent(currency)))
    subtotal = tax = zero
    for row, line in zip(rows, lines, strict=True):
        amount = line.amount
        if amount is None:
            if line.quantity is None or line.unit_price is None:
                missing = "quantity" if line.quantity is None else "unit_amount"
                raise CellError(
                    row.raw(missing),
                    "a Quantity and UnitAmount on every line (the document has no "
                    "Total, so its lines make it)",
                    missing,
                )
            amount = _exact_line_amount(line.quantity, line.unit_price, row["discount"])
            if amount is None:
                raise CellError(
                    row.raw("unit_amount"),
                    "a Total: this line's Quantity x UnitAmount has more digits "
                    "than billfold can hold exactly",
                    "total",
                )
        line_tax = line.tax
        if line_tax is None:
            tax_type = row.raw("tax_type").strip()
            if not _ZERO_TAX.search(tax_type):
                raise CellError(
                    row.raw("tax_amount"),
                    f"a TaxAmount on line {row.line} (the document has no Total and "
                    f"tax type {tax_type or '(none)'!r} is not zero-rated; billfold "
                    "does not compute tax)",
                    "tax_amount",
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
            "total",
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
