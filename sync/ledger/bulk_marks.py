"""Bulk paid marks: the lines an office pastes, read into their five columns.

One invoice per line: ``number, amount received now, date, method, reference``. The
amount is the payment received now, as in the mark-paid form (blank: paid in full,
whatever is open); the date is YYYY-MM-DD (blank: today). Columns are separated by tabs
(a paste from a spreadsheet), semicolons or commas, line by line: a line with a tab is
split at tabs, else one with a semicolon at semicolons, else at commas (separators
inside double quotes do not count). A value that contains its line's separator is put
in double quotes, as in CSV: with commas between columns, an amount with a decimal
comma is written ``"8,50"`` (or use semicolons or tabs). A line whose amount looks split
at its comma (``A-100,8,50,2025-06-01``) is refused with that advice, never read as 8.
A header line (first column ``number`` or ``invoice``) and blank lines are skipped.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

COLUMNS = ("number", "amount", "date", "method", "reference")
_SEPARATORS = ("\t", ";", ",")
_SEPARATOR_NAMES = {"\t": "tabs", ";": "semicolons", ",": "commas"}
# What the date column holds when an amount was split at its decimal comma or at a
# thousands separator: "50" of 8,50 or "234.50" of 1,234.50. Dates are never this.
_AMOUNT_TAIL = re.compile(r"\d{1,3}([.,]\d*)?")


@dataclass(frozen=True)
class BulkLine:
    """One pasted line: its number (1-based), its columns, or why it cannot be read."""

    line: int
    number: str
    amount: str = ""
    paid_on: str = ""
    method: str = ""
    reference: str = ""
    problem: str | None = None


def separator(line: str) -> str:
    """Return the column separator of *line*: tab, else semicolon, else comma."""
    unquoted = re.sub(r'"[^"]*"', "", line)
    return next((sep for sep in _SEPARATORS if sep in unquoted), ",")


def read_bulk_lines(text: str) -> list[BulkLine]:
    """Read pasted lines; skip blanks and a header; say why a line cannot be read."""
    out: list[BulkLine] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        sep = separator(raw)
        try:
            cells = [c.strip() for c in next(csv.reader([raw], delimiter=sep))]
        except (csv.Error, StopIteration):
            out.append(
                BulkLine(n, raw.strip()[:40], problem="the line could not be read")
            )
            continue
        number = cells[0] if cells else ""
        if not number or number.lower() in ("number", "invoice", "invoice number"):
            continue
        extra = [c for c in cells[len(COLUMNS) :] if c]
        cells = cells + [""] * len(COLUMNS)
        problem = None
        if sep == "," and cells[1].isdigit() and _AMOUNT_TAIL.fullmatch(cells[2]):
            problem = (
                f"the amount looks split at its comma ({cells[1]},{cells[2]}): put it "
                f'in double quotes ("{cells[1]},{cells[2]}") or separate the columns '
                "with semicolons or tabs"
            )
        elif extra:
            problem = (
                f"the line has more than {len(COLUMNS)} columns "
                f"({', '.join(COLUMNS)}) separated by {_SEPARATOR_NAMES[sep]}: put "
                "a value that contains the separator in double quotes"
            )
        out.append(
            BulkLine(n, number, cells[1], cells[2], cells[3], cells[4], problem=problem)
        )
    return out
