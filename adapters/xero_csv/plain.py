"""A Xero CSV export's plain documents, read straight from their cells (the fast path).

Most documents of a big export are plain: every row of the header's width, the
document's fields the same on each row, no row repeated, every cell readable and the
figures consistent. ``PlainDocuments`` makes such a document from its rows' cells by
position, reading each distinct cell text once per file (amounts, dates in the file's
decided order, Type, Status, Currency, the contact's key) through the row path's own
readers, with no per-cell lookups by name.

Anything else (``None``) goes to the row path (``XeroCsv.build``), which rejects it,
drops repeated rows or adds notes exactly as it always has: no message comes from here.
``tests/adapters/test_xero_plain.py`` feeds random and hostile exports to both paths and
compares every item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any

from adapters.errors import CellError
from adapters.toolkit.cells import parse_amount, parse_date
from adapters.toolkit.columns import nfc_key, normalise_header
from adapters.toolkit.csv_rows import Row
from adapters.toolkit.table import Table
from schemas.money import is_currency_code
from schemas.records import AccountRecord, DocumentRecord, LineRecord

# Distinct texts remembered per reading; past this many the memory starts again, so a
# file of unique amounts keeps memory flat.
MEMO_SIZE = 1 << 16


class _Unread:
    """A cell the fast path does not read: the row path says what is wrong with it."""

    __slots__ = ()


UNREAD: Any = _Unread()


class _Memo(dict[str, Any]):
    """Each distinct text read once: ``memo[text]`` is its value or ``UNREAD``."""

    def __init__(self, read: Callable[[str], Any]) -> None:
        super().__init__()
        self.read = read

    def __missing__(self, text: str) -> Any:
        if len(self) >= MEMO_SIZE:
            self.clear()
        try:
            value = self.read(text)
        except CellError:
            value = UNREAD
        self[text] = value
        return value


def _text(text: str) -> str | None:
    return text.strip() or None


def _absent(cells: Sequence[str]) -> str:
    return ""


class PlainDocuments:
    """Reads one export's plain documents (see the module docstring)."""

    def __init__(
        self,
        table: Table,
        kind: Callable[[str], str | None],
        statuses: dict[str, tuple[str, bool | None]],
    ) -> None:
        columns = table.columns
        self.width = table.width

        def cell(name: str) -> Callable[[Sequence[str]], str]:
            index = columns.get(name)
            return _absent if index is None else itemgetter(index)

        self.get = {
            name: cell(name)
            for name in (
                "type", "number", "contact", "email", "reference", "currency",
                "status", "issue_date", "due_date", "total", "tax_total",
                "amount_paid", "amount_due", "description", "item", "quantity",
                "unit_amount", "line_amount", "tax_amount",
            )
        }  # fmt: skip
        fields = [index for _, index in table.record_fields()]
        self.same = itemgetter(*fields) if fields else _absent
        self.has_status = "status" in columns
        order = table.dates.order

        def read_date(text: str) -> date | None:
            return parse_date(text, order)

        default = table.options.default_currency

        def currency(text: str) -> str:
            code = text.strip().upper()
            if not code:
                return default
            if not is_currency_code(code):
                raise CellError(text, "an ISO currency code")
            return code

        def status(text: str) -> tuple[str, bool | None, str]:
            norm = normalise_header(text)
            if norm not in statuses:  # an empty Status too: the export has one
                raise CellError(text, "a Xero status")
            return (*statuses[norm], norm)

        self.kinds = _Memo(kind)
        self.contacts = _Memo(nfc_key)
        self.currencies = _Memo(currency)
        self.statuses = _Memo(status)
        self.amounts = _Memo(parse_amount)
        self.dates = _Memo(read_date)

    def document(self, rows: Sequence[Row]) -> DocumentRecord | None:
        """The document on *rows*, or None for the row path to read it."""
        width = self.width
        for row in rows:
            if len(row.cells) != width or row.truncated:
                return None
        cells = rows[0].cells
        if len(rows) > 1 and not self._one_document(rows):
            return None
        get, amounts = self.get, self.amounts
        kind = self.kinds[get["type"](cells)]
        number = get["number"](cells).strip()
        contact = self.contacts[get["contact"](cells)]
        status: Any = (
            self.statuses[get["status"](cells)]
            if self.has_status
            else ("issued", None, "")
        )
        currency = self.currencies[get["currency"](cells)]
        issue_date = self.dates[get["issue_date"](cells)]
        due_date = self.dates[get["due_date"](cells)]
        total = amounts[get["total"](cells)]
        tax = amounts[get["tax_total"](cells)]
        paid = amounts[get["amount_paid"](cells)]
        due = amounts[get["amount_due"](cells)]
        if (
            (kind != "invoice" and kind != "credit_note")
            or not number
            or not contact
            or issue_date is None
            or total is None
            or total is UNREAD
            or status is UNREAD
            or currency is UNREAD
            or issue_date is UNREAD
            or due_date is UNREAD
            or tax is UNREAD
            or paid is UNREAD
            or due is UNREAD
        ):
            return None
        lines = self._lines(rows)
        if lines is None:
            return None
        lifecycle, paid_flag, status_name = status
        record = DocumentRecord(
            kind=kind,
            external_id=number,
            number=number,
            account=AccountRecord(
                key=contact, name=contact, email=_text(get["email"](cells))
            ),
            issue_date=issue_date,
            due_date=due_date,
            currency=currency,
            total=total,
            tax=tax,
            lifecycle=lifecycle,
            reference=_text(get["reference"](cells)),
            lines=lines,
            line=rows[0].line,
        )
        if kind == "credit_note":
            made = _credit_figures(record, due, status_name)
        else:
            made = _invoice_figures(record, paid, due, paid_flag, status_name)
        if not made:
            return None
        if record.total is not None and record.tax is not None:
            record.subtotal = record.total - record.tax
        return record

    def _one_document(self, rows: Sequence[Row]) -> bool:
        """The rows agree on every document field and none repeats another."""
        same = self.same
        first = same(rows[0].cells)
        for row in rows[1:]:
            if same(row.cells) != first:
                return False
        kept: dict[tuple[str, ...], Row] = {}
        for row in rows:
            kept.setdefault(tuple(row.cells), row)
        return len(kept) == len(rows) or self._repeats_are_lines(rows, kept.values())

    def _repeats_are_lines(self, rows: Sequence[Row], kept: Iterable[Row]) -> bool:
        """``xero_csv._without_repeated_rows`` keeps every row (else the row path drops)."""
        get, amounts = self.get, self.amounts
        line_amount = get["line_amount"]
        if line_amount is _absent:
            return True
        total = amounts[get["total"](rows[0].cells)]
        tax = amounts[get["tax_total"](rows[0].cells)]
        every = [amounts[line_amount(row.cells)] for row in rows]
        if UNREAD in (total, tax) or any(a is UNREAD for a in every):
            return False
        if total is None or None in every:
            return True
        targets = {abs(total), abs(total) - abs(tax or Decimal(0))}
        without = [amounts[line_amount(row.cells)] for row in kept]
        return abs(sum(every)) in targets or abs(sum(without)) not in targets

    def _lines(self, rows: Sequence[Row]) -> list[LineRecord] | None:
        get, amounts = self.get, self.amounts
        quantity, unit = get["quantity"], get["unit_amount"]
        amount, tax = get["line_amount"], get["tax_amount"]
        description, item = get["description"], get["item"]
        lines = []
        for position, row in enumerate(rows, start=1):
            cells = row.cells
            values = (
                amounts[quantity(cells)],
                amounts[unit(cells)],
                amounts[amount(cells)],
                amounts[tax(cells)],
            )
            for value in values:
                if value is UNREAD:
                    return None
            lines.append(
                LineRecord(
                    position=position,
                    description=description(cells).strip(),
                    item=_text(item(cells)),
                    quantity=values[0],
                    unit_price=values[1],
                    amount=values[2],
                    tax=values[3],
                )
            )
        return lines


def _invoice_figures(
    record: DocumentRecord,
    paid: Decimal | None,
    due: Decimal | None,
    paid_flag: bool | None,
    status: str,
) -> bool:
    """``xero_csv._invoice_figures`` for a consistent invoice; False when it is not."""
    total = record.total
    assert total is not None
    if total < 0 or (paid is not None and paid < 0) or (due is not None and due < 0):
        return False
    if status == "paid" and due:
        return False
    credited = None
    if record.lifecycle in ("void", "deleted"):
        credited = Decimal(0) if paid is not None else None
    elif paid is not None and due is not None:
        credited = total - paid - due
        if credited < 0:
            return False
    record.amount_paid = paid
    record.amount_credited = credited
    record.balance = due
    record.paid_flag = paid_flag
    return True


def _credit_figures(record: DocumentRecord, due: Decimal | None, status: str) -> bool:
    """``xero_csv._credit_figures`` for a consistent credit note; False when it is not."""
    total = record.total
    assert total is not None
    negative = total < 0
    remaining = None if due is None else abs(due)
    if remaining is None and status == "paid":
        remaining = Decimal(0)  # Paid: the credit is fully used
    if remaining is not None and remaining > abs(total):
        return False
    if status == "paid" and remaining:
        return False
    record.total = abs(total)
    record.tax = None if record.tax is None else abs(record.tax)
    record.balance = remaining
    if negative:
        negate_lines(record)
    return True


def negate_lines(record: DocumentRecord) -> None:
    """A credit note written negative: its lines' amounts, tax and prices turned."""
    for line in record.lines:
        line.amount = None if line.amount is None else -line.amount
        line.tax = None if line.tax is None else -line.tax
        line.unit_price = None if line.unit_price is None else -line.unit_price
