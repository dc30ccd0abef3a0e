"""Stream the rows of a CSV export with their line numbers and truncation facts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from adapters.toolkit.cells import cell_text

# Big memo fields are legal; the csv module's default limit (128 KiB) is not a limit a
# billing export should hit, but an unbounded field is how a stray quote eats a file.
csv.field_size_limit(1 << 24)


@dataclass(slots=True)
class Row:
    """One record of a table: its cells and the physical lines it spans (1-based).

    A CSV row's cells are text; a spreadsheet row's may be typed (``cells.Number``,
    ``date``): ``text`` and ``preview`` show either as text.
    """

    cells: list[Any]
    line: int
    last_line: int
    at_eof: bool = False
    truncated: bool = False

    @property
    def blank(self) -> bool:
        """True for a row with no text in any cell."""
        for cell in self.cells:
            if (cell if cell.__class__ is str else cell_text(cell)).strip():
                return False
        return True

    def get(self, index: int | None) -> Any:
        """Return the cell at *index* as it is ("" past the row's end or for None)."""
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]

    def text(self, index: int | None) -> str:
        """Return the cell at *index* as text."""
        cell = self.get(index)
        return cell if cell.__class__ is str else cell_text(cell)

    def preview(self) -> str:
        """The row as one line of at most 80 characters, for a rejection's value."""
        text = ",".join(map(cell_text, self.cells))
        return text if len(text) <= 80 else text[:77] + "..."


# Text read per call: the csv module is handed the lines of a block from a StringIO
# (no Python call per line), split where ``readline`` would split them.
BLOCK = 1 << 16


class _Lines:
    """Feed lines to csv.reader a block at a time, remembering how the file ends.

    Lines end at ``\n``, ``\r\n`` or ``\r``, as the file's own ``readline`` ends
    them (it is opened with ``newline=""``), so ``csv.reader.line_num`` counts the
    same lines.
    """

    __slots__ = ("_file", "last")

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self.last = ""

    def __iter__(self) -> Iterator[str]:
        read = self._file.read
        parts: list[str] = []  # the text after the last line end read so far
        text = ""
        while block := read(BLOCK):
            # A final "\r" may be the first half of "\r\n": it waits for the next block.
            stop = len(block) - 1 if block.endswith("\r") else len(block)
            end = max(block.rfind("\n", 0, stop), block.rfind("\r", 0, stop)) + 1
            if not end:
                parts.append(block)
                continue
            parts.append(block[:end])
            text = "".join(parts)
            parts = [block[end:]] if end < len(block) else []
            yield from io.StringIO(text, newline="")
        if parts:
            text = "".join(parts)
            yield from io.StringIO(text, newline="")
        lines = io.StringIO(text, newline="").readlines()
        self.last = lines[-1] if lines else ""


def read_rows(file: TextIO, delimiter: str = ",") -> Iterator[Row]:
    """Yield every record of *file*, marking a last record the file cuts off.

    A last record is cut off when the file ends without a newline inside an open quote,
    or with fewer cells than the record before it (the caller compares with the header).
    """
    lines = _Lines(file)
    reader = csv.reader(lines, delimiter=delimiter)
    previous_end = 0
    pending: Row | None = None
    for cells in reader:
        row = Row(cells, previous_end + 1, reader.line_num)
        previous_end = reader.line_num
        if pending is not None:
            yield pending
        pending = row
    if pending is not None:
        pending.at_eof = True
        ends_cleanly = lines.last.endswith(("\n", "\r"))
        if not ends_cleanly and lines.last.count('"') % 2 == 1:
            pending.truncated = True
        yield pending
