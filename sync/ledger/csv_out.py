"""CSV for people: spreadsheet-safe cells, UTF-8 with a BOM so Excel reads accents.

Imported text is hostile: a description starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return would run as a formula when a customer opens the file in a
spreadsheet. Such text cells are prefixed with ``'``. Amount columns are written by
billfold itself and pass through unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

_FORMULA_STARTS = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\uff1d",
    "\uff0b",
    "\uff0d",
    "\uff20",
)


def safe_text(value: object) -> str:
    """Return *value* as text that a spreadsheet will never run as a formula."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_csv(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    text_columns: Iterable[int],
) -> bytes:
    """Return CSV bytes; cells in *text_columns* (indexes) are neutralised."""
    text = set(text_columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [
                safe_text(v) if i in text else ("" if v is None else v)
                for i, v in enumerate(row)
            ]
        )
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
