"""A tabular export read as a column mapping plus a record builder.

An adapter for a table (a CSV export, or a spreadsheet) subclasses ``TabularAdapter``,
declares its ``columns`` (canonical names, header synonyms, how each cell converts)
and writes ``build``, which turns the typed rows of one record into items. The
toolkit does the rest, the same way for every table:

1. **Header**: the first non-blank row (or, after title rows, the first row
   ``find_header`` accepts) is mapped to the declared columns by name, never by
   position; a header naming a column twice, or lacking a required one, refuses the
   file.
2. **Day/month order** (``survey``, a second pass): every cell of the date columns is
   looked at until the file proves an order; the source's ``date_order`` breaks a tie;
   a file whose dates fit both orders without one, or that proves both, is refused.
3. **Records** (``records``): blank rows are skipped, structure rows (footers, group
   rows) go to ``structure``, consecutive rows with one ``group_key`` are one record
   (the lines of one invoice), every row's width is checked against the header, and a
   ``CellError`` from ``build`` becomes a ``Rejection`` naming the line, the record,
   the column (as the file names it) and the value; the rest of the file goes on.

Builders read cells only through ``Values`` (``values["total"]`` is a ``Decimal``
when ``total`` is declared an amount). That is where a columnar fast path would go:
a chunked reader (pandas ``read_csv(dtype=str, keep_default_na=False,
chunksize=...)``) replacing ``rows`` and ``records`` for plain CSV, converting each
declared amount and date column once per chunk instead of once per cell, would serve
every tabular adapter at once without changing a builder.
"""

from __future__ import annotations

import contextlib
import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import CellError, FileRejected
from adapters.toolkit.cells import (
    DATE_EXPECTED,
    FileDates,
    cell_amount,
    cell_text,
    parse_flag,
    parse_timestamp,
)
from adapters.toolkit.columns import map_columns
from adapters.toolkit.csv_rows import Row, read_rows
from schemas.money import is_currency_code
from schemas.records import ExportInfo, Item, Rejection

Kind = Literal["text", "amount", "date", "timestamp", "flag", "currency"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column a tabular adapter reads.

    ``synonyms`` are the normalised header names (``columns.normalise_header``) that
    mean it besides its own name. ``kind`` says what its cells become (``Values``).
    A ``required`` column must be in the header. A ``line`` column may differ between
    the rows of one record (the lines of one invoice); every other column must agree.
    ``fields`` are the billfold fields it fills (``schemas.limits``), so that a value
    too long for one is reported under the export's own column name.
    """

    name: str
    synonyms: tuple[str, ...] = ()
    kind: Kind = "text"
    required: bool = False
    line: bool = False
    fields: tuple[str, ...] = ()


class Columns:
    """A table's declared columns, in the order their synonyms are tried."""

    def __init__(self, *columns: Column) -> None:
        self.declared = {c.name: c for c in columns}
        self.synonyms = {c.name: c.synonyms for c in columns}
        self.required = tuple(c.name for c in columns if c.required)
        self.dated = tuple(c.name for c in columns if c.kind == "date")

    def kind(self, name: str) -> Kind:
        """How the cells of *name* convert (a configured column no one declared: text)."""
        column = self.declared.get(name)
        return column.kind if column is not None else "text"

    def is_line(self, name: str) -> bool:
        """True for a column whose cells may differ between the rows of one record."""
        column = self.declared.get(name)
        return column is not None and column.line

    def map(
        self, cells: Sequence[str], configured: Mapping[str, str] | None = None
    ) -> tuple[dict[str, int], list[str]]:
        """Return ``{name: index}`` for a header and the problems mapping it met."""
        return map_columns(cells, self.synonyms, configured)

    def missing(self, found: Mapping[str, int]) -> list[str]:
        """Return the required columns *found* lacks."""
        return [c for c in self.required if c not in found]


def first_row(text: str | None) -> list[str] | None:
    """Return the first non-blank CSV row of a file's head (cheap; None, never raises)."""
    if text is None:
        return None
    try:
        for cells in csv.reader(io.StringIO(text)):
            if any(c.strip() for c in cells):
                return cells
    except csv.Error:
        return None
    return None


def head_rows(text: str, limit: int) -> Iterator[list[str]]:
    """Yield the first *limit* CSV rows of a file's head (raises ``csv.Error``)."""
    for index, cells in enumerate(csv.reader(io.StringIO(text))):
        if index >= limit:
            return
        yield cells


def decide_date_order(
    dates: Iterable[tuple[int, Iterable[str]]], configured: str | None
) -> FileDates:
    """Decide a file's day/month order from ``(line, date cells)`` pairs.

    Reading stops once the file proves an order, so a big file is read only as far as
    its first date after the 12th. Refuses (``FileRejected``) a file whose dates fit
    both orders when nothing is *configured*.
    """
    order = FileDates(configured)
    for line, texts in dates:
        for text in texts:
            order.scan(text, line)
        if order.decided:
            break
    order.settle()
    return order


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
        self.names = {c: self._header_name(i) for c, i in columns.items()}
        self.dates = FileDates(options.date_order)  # decided by the survey

    def _header_name(self, index: int) -> str:
        return self.header.text(index).replace("\ufeff", "").strip()

    def rename(self, old: str, new: str) -> None:
        """Read the column mapped as *old* as column *new* from now on."""
        self.columns[new] = self.columns.pop(old)
        self.names[new] = self.names.pop(old)

    def label(self, name: str | None) -> str | None:
        """Name a column as messages do: as the file's header does, or canonically."""
        if name is None or not self.header_names:
            return name
        return self.names.get(name, name)

    def cell(self, row: Row, name: str) -> str:
        """The text of *row*'s cell in column *name*, as the file has it ("" if none)."""
        return row.text(self.columns.get(name))

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
        kind = self.table.declared.kind(name)
        if kind == "amount":
            return self.amount(name)
        if kind == "date":
            return self.date(name)
        if kind == "timestamp":
            return self.timestamp(name)
        if kind == "flag":
            return self.flag(name)
        if kind == "currency":
            return self.currency(name)
        return self.text(name)

    def raw(self, name: str) -> str:
        """The cell's text exactly as the file has it ("" when the column is absent)."""
        return self.table.cell(self.row, name)

    def text(self, name: str) -> str | None:
        """The cell's text without outer spaces, or None when that leaves nothing."""
        return self.raw(name).strip() or None

    def amount(self, name: str) -> Decimal | None:
        """The cell as an amount (``cells.parse_amount``)."""
        cell = self.row.get(self.table.columns.get(name))
        try:
            return cell_amount(cell)
        except CellError as exc:
            raise CellError(cell_text(cell), exc.expected, name) from None

    def date(self, name: str) -> date | None:
        """The cell as a date, read in the file's day/month order."""
        cell = self.row.get(self.table.columns.get(name))
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


def check_agreement(rows: Sequence[Values], *, blank_continues: bool = False) -> None:
    """Rows of one record must agree on every column not declared a line column.

    With *blank_continues*, a later row may leave such a cell empty (a template that
    writes the document's fields on its first row only).
    """
    table = rows[0].table
    fields = [(c, i) for c, i in table.columns.items() if not table.declared.is_line(c)]
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


class TabularAdapter(ABC):
    """An adapter for a tabular export: declared ``columns`` plus a ``build`` method.

    ``parse`` runs the passes in the module docstring; every step is a method a format
    may override (``find_header``, ``check_columns``, ``survey``, ``structure``,
    ``group_key``, ``record``). An instance reads one file at a time.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    columns: ClassVar[Columns]
    # Normalised header names only this format writes: the fallback adapter leaves a
    # file whose first row holds one alone even when this adapter does not claim it.
    markers: ClassVar[frozenset[str]] = frozenset()
    no_header: ClassVar[str] = "the file is empty; expected a header row"
    max_preamble: ClassVar[int] = 0  # title rows allowed above the header
    header_names: ClassVar[bool] = True  # rejections name columns as the header does
    row_noun: ClassVar[str] = "record"  # "a complete record, but the file ends ..."
    explain_spans: ClassVar[bool] = True  # say when a record spans many lines

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a CSV whose first row is this format's header (cheap)."""
        first = first_row(head.text)
        return first is not None and cls.claims(cls.columns.map(first)[0])

    @classmethod
    def claims(cls, found: Mapping[str, int]) -> bool:
        """Is a first row whose columns map as *found* this format's header?"""
        return not cls.columns.missing(found)

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the file's records, a Rejection for each one that cannot be read."""
        try:
            with contextlib.closing(self.rows(export)) as rows:
                table = self.table(rows, options)
                self.survey(export, table)
                yield from self.export_info(table)
                yield from self.records(table, rows)
        except csv.Error as exc:
            raise FileRejected(
                f"expected CSV text, but the file cannot be read: {exc}"
            ) from None

    # -- the header -----------------------------------------------------------------

    def rows(self, export: ExportFile) -> Iterator[Row]:
        """Stream the file's rows (CSV text in the encoding sniffed from its bytes)."""
        with export.open_text() as file:
            yield from read_rows(file)

    @classmethod
    def is_header(cls, cells: Sequence[str]) -> bool:
        """Is this non-blank row the header? (The default: the first one is.)"""
        return True

    def find_header(self, rows: Iterator[Row]) -> tuple[Row, list[str]]:
        """Return the header row and the title rows above it (each as one line)."""
        preamble: list[str] = []
        for row in rows:
            if row.blank:
                continue
            cells = [cell_text(c) for c in row.cells]
            if self.is_header(cells):
                return row, preamble
            preamble.append(" ".join(c.strip() for c in cells if c.strip()))
            if len(preamble) > self.max_preamble:
                break
        raise FileRejected(self.no_header)

    def table(self, rows: Iterator[Row], options: ParseOptions) -> Table:
        """Find the header, map it to the declared columns and check them."""
        header, preamble = self.find_header(rows)
        found, problems = self.columns.map(
            [cell_text(c) for c in header.cells], options.columns
        )
        if problems:
            raise FileRejected("; ".join(problems), line=header.line)
        table = Table(
            header,
            found,
            self.columns,
            options,
            preamble=preamble,
            header_names=self.header_names,
        )
        self.check_columns(table)
        return table

    def check_columns(self, table: Table) -> None:
        """Refuse a header that lacks a required column."""
        missing = self.columns.missing(table.columns)
        if missing:
            raise refuse_missing(table, missing)

    # -- the survey -----------------------------------------------------------------

    def survey(self, export: ExportFile, table: Table) -> None:
        """Decide the file's day/month order from its date columns (a second pass)."""
        indexes = [table.columns[c] for c in self.columns.dated if c in table.columns]
        after = table.header.line
        with contextlib.closing(self.rows(export)) as rows:
            table.dates = decide_date_order(
                (
                    (row.line, [row.cells[i] for i in indexes if i < len(row.cells)])
                    for row in rows
                    if row.line > after
                ),
                table.options.date_order,
            )

    def export_info(self, table: Table) -> Iterator[Item]:
        """Yield what the file says about itself before any record."""
        yield table.export_info()

    # -- the records ----------------------------------------------------------------

    def records(self, table: Table, rows: Iterator[Row]) -> Iterator[Item]:
        """Group the rows after the header into records and read each."""
        group: list[Row] = []
        key: Hashable | None = None
        for row in rows:
            if row.blank:
                continue
            if not self.is_data(table, row):
                if group:
                    yield from self.record(table, group)
                    group = []
                yield from self.structure(table, row)
                continue
            row_key = self.group_key(table, row, key)
            if group and (row_key is None or row_key != key):
                yield from self.record(table, group)
                group = []
            group.append(row)
            key = row_key
        if group:
            yield from self.record(table, group)
        yield from self.finish(table)

    def is_data(self, table: Table, row: Row) -> bool:
        """Is this row part of a record, or a structure row (a footer, a group row)?"""
        return True

    def structure(self, table: Table, row: Row) -> Iterable[Item]:
        """Read a structure row (after the record before it): notes, if anything."""
        return ()

    def group_key(self, table: Table, row: Row, previous: Hashable | None) -> Hashable:
        """What ties consecutive rows into one record; None: every row is one record."""
        return None

    def record(self, table: Table, rows: list[Row]) -> Iterator[Item]:
        """Check the rows of one record and build it; a CellError rejects it alone."""
        values = [Values(table, row) for row in rows]
        label = self.record_label(values)
        try:
            self.check_rows(table, rows)
            items = list(self.build(values))
        except CellError as exc:
            yield self.reject(table, exc, rows, label)
            return
        yield from items

    def record_label(self, rows: Sequence[Values]) -> str:
        """How a rejection names the record (e.g. ``invoice 1004``)."""
        return f"record on line {rows[0].line}"

    def check_rows(self, table: Table, rows: Sequence[Row]) -> None:
        """Check every row of a record against the header's width."""
        check_widths(rows, table.width, table.header.line, noun=self.row_noun)

    @abstractmethod
    def build(self, rows: Sequence[Values]) -> Iterable[Item]:
        """Turn the rows of one record into items; raise CellError to reject it."""

    def reject(
        self, table: Table, exc: CellError, rows: Sequence[Row], label: str
    ) -> Rejection:
        """The rejection of one record: what was expected, where, and the value."""
        reason = f"expected {exc.expected}"
        if self.explain_spans and rows[-1].last_line > rows[0].line + len(rows) - 1 + 5:
            reason += (
                f" (this record spans lines {rows[0].line}-{rows[-1].last_line}; an "
                "unmatched quote may have swallowed the rows in between)"
            )
        return Rejection(
            reason=reason,
            line=rows[0].line,
            record=label,
            column=table.label(exc.column),
            value=exc.value,
        )

    def finish(self, table: Table) -> Iterator[Item]:
        """Yield what the whole file adds once its records are read."""
        return iter(())
