"""One table's header decided: its columns found, and its rows read through them.

``Table`` knows where each declared column is and what the file calls it; ``Values``
reads one row's cells by column name, converted as the column declares; the checks
every table's records go through (the header's width, fields that must agree across
the rows of one record) raise ``CellError`` for the record at hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from adapters.base import ParseOptions
from adapters.errors import CellError, FileRejected
from adapters.toolkit.cells import (
    DATE_EXPECTED,
    FileDates,
    cell_amount,
    cell_text,
    parse_amount,
    parse_flag,
    parse_timestamp,
)
from adapters.toolkit.columns import Columns
from adapters.toolkit.csv_rows import Row
from schemas.money import is_currency_code
from schemas.records import ExportInfo


class Table:
    """One file's header decided: where each column is and what the file calls it."""

    def __init__(
        self,
        header: Row,
        columns: dict[str, int],
        declared: Columns,
        options: ParseOptions,
        *,
        preamble: Sequence[str] = (),
        header_names: bool = True,
    ) -> None:
        self.header = header
        self.columns = columns
        self.declared = declared
        self.options = options
        self.preamble = list(preamble)
        self.width = len(header.cells)
        self.header_names = header_names
        self._record_fields: list[tuple[str, int]] | None = None
        self.names = {c: self._header_name(i) for c, i in columns.items()}
        self.readers = {c.name: _READERS[c.kind] for c in declared.declared.values()}
        self.dates = FileDates(options.date_order)  # decided by the survey

    def _header_name(self, index: int) -> str:
        return self.header.text(index).replace("\ufeff", "").strip()

    def rename(self, old: str, new: str) -> None:
        """Read the column mapped as *old* as column *new* from now on."""
        self.columns[new] = self.columns.pop(old)
        self.names[new] = self.names.pop(old)
        self._record_fields = None

    def label(self, name: str | None) -> str | None:
        """Name a column as messages do: as the file's header does, or canonically."""
        if name is None or not self.header_names:
            return name
        return self.names.get(name, name)

    def get(self, row: Row, name: str) -> Any:
        """*row*'s cell in column *name* as it is (typed in a spreadsheet; "" if none)."""
        index = self.columns.get(name)
        cells = row.cells
        if index is None or index >= len(cells):
            return ""
        return cells[index]

    def cell(self, row: Row, name: str) -> str:
        """The text of *row*'s cell in column *name*, as the file has it ("" if none)."""
        cell = self.get(row, name)
        return cell if cell.__class__ is str else cell_text(cell)

    def record_fields(self) -> list[tuple[str, int]]:
        """The columns found that are not line columns, with where they are."""
        fields = self._record_fields
        if fields is None:
            line = self.declared.is_line
            fields = self._record_fields = [
                (c, i) for c, i in self.columns.items() if not line(c)
            ]
        return fields

    def export_info(self) -> ExportInfo:
        """Name the billfold fields the declared columns fill as the file does."""
        return ExportInfo(
            columns={
                field: self.names[column.name]
                for column in self.declared.declared.values()
                if column.name in self.names
                for field in column.fields
            }
        )


class Values:
    """One row's cells, read by column name and converted as the column declares.

    ``values[name]`` converts by the declared kind: ``text`` (stripped, None when
    empty), ``amount`` (``Decimal``), ``date``, ``timestamp``, ``flag`` (``bool``),
    ``currency`` (an ISO code, the source's default when empty); an empty cell, or a
    column the file lacks, is None. A cell that does not convert
    raises ``CellError`` naming the column, which rejects the record.
    """

    __slots__ = ("row", "table")

    def __init__(self, table: Table, row: Row) -> None:
        self.table = table
        self.row = row

    @property
    def line(self) -> int:
        """The row's first line in the file."""
        return self.row.line

    def __getitem__(self, name: str) -> Any:
        return self.table.readers.get(name, Values.text)(self, name)

    def raw(self, name: str) -> str:
        """The cell's text exactly as the file has it ("" when the column is absent)."""
        return self.table.cell(self.row, name)

    def text(self, name: str) -> str | None:
        """The cell's text without outer spaces, or None when that leaves nothing."""
        return self.raw(name).strip() or None

    def amount(self, name: str) -> Decimal | None:
        """The cell as an amount (``cells.parse_amount``)."""
        cell = self.table.get(self.row, name)
        try:
            return parse_amount(cell) if cell.__class__ is str else cell_amount(cell)
        except CellError as exc:
            raise CellError(cell_text(cell), exc.expected, name) from None

    def date(self, name: str) -> date | None:
        """The cell as a date, read in the file's day/month order."""
        cell = self.table.get(self.row, name)
        if isinstance(cell, str):
            table = self.table
            try:
                return table.dates.parse(cell, table.label(name) or name, self.line)
            except CellError as exc:
                raise CellError(exc.value, exc.expected, name) from None
        if isinstance(cell, date):
            return cell
        raise CellError(
            cell_text(cell), DATE_EXPECTED + " (this cell holds a number)", name
        )

    def timestamp(self, name: str) -> datetime | None:
        """The cell as a timestamp in naive UTC (``cells.parse_timestamp``)."""
        return self._convert(name, parse_timestamp)

    def flag(self, name: str) -> bool | None:
        """The cell as yes or no (``cells.parse_flag``)."""
        return self._convert(name, parse_flag)

    def currency(self, name: str, example: str = "USD") -> str:
        """The cell as an ISO 4217 code; empty, the source's default currency."""
        text = self.raw(name).strip().upper()
        if not text:
            return self.table.options.default_currency
        if not is_currency_code(text):
            raise CellError(
                text, f"a three-letter ISO currency code such as {example}", name
            )
        return text

    def _convert(self, name: str, convert: Callable[[str], Any]) -> Any:
        text = self.raw(name)
        try:
            return convert(text)
        except CellError as exc:
            raise CellError(text, exc.expected, name) from None

    def required(self, name: str, expected: str) -> Any:
        """``values[name]``, or a ``CellError`` saying *expected* when it is empty."""
        value = self[name]
        if value is None:
            raise CellError(self.raw(name), expected, name)
        return value


# How ``values[name]`` reads a column of each declared kind.
_READERS: dict[str, Callable[[Values, str], Any]] = {
    "text": Values.text,
    "amount": Values.amount,
    "date": Values.date,
    "timestamp": Values.timestamp,
    "flag": Values.flag,
    "currency": Values.currency,
}


def check_agreement(rows: Sequence[Values], *, blank_continues: bool = False) -> None:
    """Rows of one record must agree on every column not declared a line column.

    With *blank_continues*, a later row may leave such a cell empty (a template that
    writes the document's fields on its first row only).
    """
    table = rows[0].table
    fields = table.record_fields()
    first = rows[0].row.cells
    for values in rows[1:]:
        row = values.row
        cells = row.cells
        for name, index in fields:
            if cells[index] == first[index]:
                continue
            a, b = first[index].strip(), cells[index].strip()
            if a != b and (b or not blank_continues):
                raise CellError(
                    b,
                    f"the same {table.label(name)} on every row of this document "
                    f"({a!r} on line {rows[0].line}, {b!r} on line {row.line})",
                    name,
                )


def refuse_missing(table: Table, missing: Sequence[str]) -> FileRejected:
    """The refusal of a header that lacks required columns, naming what it has."""
    return FileRejected(
        f"missing required column(s) {', '.join(missing)}; the header has "
        f"{', '.join(repr(cell_text(c)) for c in table.header.cells)}. Rename the "
        "columns or map them under [sources.columns] in the config",
        line=table.header.line,
    )


def check_widths(
    rows: Sequence[Row],
    width: int,
    header_line: int,
    *,
    noun: str = "record",
    ends_cleanly: bool = True,
) -> None:
    """Raise ``CellError`` for a row cut off by the file's end, too short or too long.

    Extra cells are allowed only when they are empty (trailing separators).
    """
    for row in rows:
        count = len(row.cells)
        if row.truncated or (row.at_eof and (count < width or not ends_cleanly)):
            raise CellError(
                row.preview(),
                f"a complete {noun}, but the file ends in the middle of line "
                f"{row.line} (truncated export?)",
            )
        if count < width:
            raise CellError(
                row.preview(),
                f"{width} fields as in the header (line {header_line}), "
                f"found {count} on line {row.line}",
            )
        if count > width and any(cell_text(c).strip() for c in row.cells[width:]):
            raise CellError(
                row.preview(),
                f"{width} fields as in the header, found {count} on "
                f"line {row.line} (an unquoted comma?)",
            )
