"""An IIF file's rows: cells split by tabs or commas, keyword rows and their columns.

A row whose first cell is ``!KEYWORD`` names the columns of the ``KEYWORD`` rows after
it (``Columns``); a ``TRNS`` row, its ``SPL`` rows and ``ENDTRNS`` are one
``Transaction``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

from adapters.errors import FileRejected

# Columns without which a block cannot be read at all (Intuit requires TRNSTYPE, DATE
# and AMOUNT on transactions); anything else missing rejects only the records needing it.
REQUIRED = {
    "TRNS": ("TRNSTYPE", "DATE", "AMOUNT"),
    "SPL": ("AMOUNT",),
    "CUST": ("NAME",),
}
DATE_COLUMNS = ("DATE", "DUEDATE")


@dataclass(slots=True)
class Row:
    """One non-blank line of the file, split into cells."""

    line: int
    keyword: str  # upper case, without the "!" of a definition row
    definition: bool
    cells: list[str]
    text: str
    terminated: bool = True
    malformed: bool = False


@dataclass(slots=True)
class Columns:
    """The columns a ``!KEYWORD`` row defines for the ``KEYWORD`` rows after it."""

    keyword: str
    line: int
    index: dict[str, int]
    width: int

    def cell(self, row: Row, name: str) -> str:
        i = self.index.get(name)
        if i is None or i >= len(row.cells):
            return ""
        return row.cells[i]


@dataclass(slots=True)
class Transaction:
    """A TRNS row and the SPL rows after it, waiting for ENDTRNS."""

    trns: Row
    columns: Columns
    splits: list[tuple[Row, Columns]] = field(default_factory=list)
    overflow: bool = False

    @property
    def kind(self) -> str:
        return " ".join(self.columns.cell(self.trns, "TRNSTYPE").split()).upper()


def unquote(cell: str) -> str:
    """Undo the quotes some tools put around a whole tab-separated cell."""
    if len(cell) >= 2 and cell[0] == '"' and cell[-1] == '"':
        return cell[1:-1].replace('""', '"')
    return cell


def _split(text: str, delimiter: str) -> tuple[list[str], bool]:
    """Return a line's cells and whether its quoting was broken (comma files only)."""
    if delimiter == "\t":
        return [unquote(c) for c in text.split("\t")], False
    try:
        return next(csv.reader([text], delimiter=",", strict=True), []), False
    except csv.Error:
        return text.split(","), True


def read_rows(file: TextIO) -> Iterator[Row]:
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
            yield Row(
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


def define(row: Row) -> Columns:
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
    return Columns(row.keyword, row.line, index, len(row.cells))


def preview(row: Row) -> str:
    text = row.text.replace("\t", " | ")
    return text if len(text) <= 80 else text[:77] + "..."
