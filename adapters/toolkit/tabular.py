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

Builders read cells only through ``table.Values`` (``row["total"]`` is a ``Decimal``
when ``total`` is declared an amount). A columnar reader with pandas (chunks of rows,
each amount and date column factorised once per chunk) was built and measured slower
than this row path, because ``csv`` already hands over Python strings and the amount
and date readers are memoised (docs/benchmarks.md, issue 17); the Xero export's fast
path (``adapters.xero_csv.plain``) reads each distinct cell text once per file instead.
"""

from __future__ import annotations

import contextlib
import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Generator, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import ClassVar

from adapters.base import ExportFile, Head, ParseOptions, Resemblance
from adapters.errors import CellError, FileRejected
from adapters.toolkit.cells import (
    FileDates,
    cell_text,
)
from adapters.toolkit.columns import Columns
from adapters.toolkit.csv_rows import Row, read_rows
from adapters.toolkit.table import Table, Values, check_widths, refuse_missing
from schemas.records import Item, Rejection


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
        return first is not None and cls.claims(cls.columns.map(first, head.columns)[0])

    @classmethod
    def resemblance(cls, head: Head) -> Resemblance | None:
        """A first row with some of this format's required columns: which it lacks."""
        first = first_row(head.text)
        wanted = len(cls.lacking({}))  # everything a header must have
        if first is None or not wanted:
            return None
        found = cls.columns.map(first, head.columns)[0]
        lacking = cls.lacking(found)
        if not lacking or len(lacking) == wanted or len(found) < 2:
            return None
        return Resemblance(
            (wanted - len(lacking)) / wanted,
            f"has no column for {', '.join(lacking)}; if the file holds it under "
            "another header, name that header under [sources.columns] in the config "
            f'({lacking[0].split(" ")[0]} = "...")',
        )

    @classmethod
    def claims(cls, found: Mapping[str, int]) -> bool:
        """Is a first row whose columns map as *found* this format's header?"""
        return not cls.lacking(found)

    @classmethod
    def lacking(cls, found: Mapping[str, int]) -> list[str]:
        """The columns a header mapped as *found* lacks to be this format's header."""
        return cls.columns.missing(found)

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

    def rows(self, export: ExportFile) -> Generator[Row]:
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
                    (row.line, [row.text(i) for i in indexes])
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
