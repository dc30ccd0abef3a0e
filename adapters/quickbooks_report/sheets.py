"""A report's rows, from a CSV download or from "Export to Excel" (.xlsx).

Both give the same rows (``toolkit.csv_rows.Row``); a workbook's cells arrive typed
(``cells.Number`` with whether its format shows cents, real dates), read as values,
never as display text. A workbook is checked as a zip archive before openpyxl opens
it: other archives and decompression bombs are refused unopened.
"""

from __future__ import annotations

import contextlib
import csv
import re
import warnings
import zipfile
from collections import deque
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from adapters.base import ExportFile
from adapters.errors import FileRejected
from adapters.toolkit.cells import Number
from adapters.toolkit.csv_rows import Row, read_rows

TAIL_BYTES = 8192
MAX_XLSX_BYTES = 200 * 1024 * 1024
MAX_XLSX_RATIO = 100
MAX_XLSX_MEMBERS = 10_000
_SMALL_MEMBER = 1024 * 1024  # members this small cannot be a decompression bomb
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def open_sheet(export: ExportFile) -> CsvSheet | XlsxSheet:
    """Return the export's rows as a workbook (zip magic) or as CSV text."""
    with export.path.open("rb") as file:
        magic = file.read(4)
    return XlsxSheet(export) if magic == b"PK\x03\x04" else CsvSheet(export)


class CsvSheet:
    """A CSV report, streamed row by row; its tail is read with one seek."""

    is_csv = True

    def __init__(self, export: ExportFile) -> None:
        if export.encoding.codec is None:
            raise FileRejected(
                export.encoding.problem
                or "expected a CSV or Excel (.xlsx) QuickBooks report"
            )
        self.export = export
        self.ends_with_newline = True

    def rows(self) -> Iterator[Row]:
        try:
            with self.export.open_text() as file:
                yield from read_rows(file)
        except (UnicodeError, csv.Error) as exc:
            raise FileRejected(
                f"expected readable CSV text in {self.export.encoding.codec}: {exc}"
            ) from exc

    def tail(self) -> list[str] | None:
        """Return the cells of the last non-blank line (the footer, in a whole file)."""
        codec = self.export.encoding.codec or "utf-8"
        if codec == "utf-16":
            text = self._tail_by_reading()
        else:
            path = self.export.path
            with path.open("rb") as file:
                file.seek(max(0, path.stat().st_size - TAIL_BYTES))
                data = file.read()
            text = data.decode("utf-8" if codec == "utf-8-sig" else codec, "replace")
        self.ends_with_newline = text.endswith(("\n", "\r")) or not text
        for line in reversed(text.splitlines()):
            try:
                cells = next(csv.reader([line]), [])
            except csv.Error:
                return None
            if any(c.strip() for c in cells):
                return cells
        return None

    def _tail_by_reading(self) -> str:
        kept: deque[str] = deque(maxlen=4)
        with self.export.open_text() as file:
            while chunk := file.read(TAIL_BYTES):
                kept.append(chunk)
        return "".join(kept)


class XlsxSheet:
    """The first worksheet of an Excel export, read with openpyxl in read-only mode."""

    is_csv = False
    ends_with_newline = True

    def __init__(self, export: ExportFile) -> None:
        _check_workbook_zip(export.path)
        self.path = export.path

    def tail(self) -> list[str] | None:
        return None  # a sheet cannot be read from its end; the survey finds the footer

    def rows(self) -> Iterator[Row]:
        with self.path.open("rb") as file:
            workbook = _excel_call(_load_workbook, file)
            try:
                sheet = _excel_call(lambda: workbook.worksheets[0])
                _excel_call(sheet.reset_dimensions)  # trust the cells, not the header
                cells = _excel_call(sheet.iter_rows, min_row=1, min_col=1)
                line = 0
                while True:
                    try:
                        row = _excel_call(_next_row, cells)
                    except StopIteration:
                        return
                    line += 1
                    yield Row(row, line, line)
            finally:
                with contextlib.suppress(Exception):
                    workbook.close()


def _next_row(cells: Iterator[Any]) -> list[Any]:
    # Cell values and formats are looked up lazily, so a damaged workbook can fail here.
    return [_excel_cell(c) for c in next(cells)]


def _load_workbook(file: Any) -> Any:
    # A file object, not a path: the stored copy has no .xlsx suffix for openpyxl.
    return load_workbook(file, read_only=True, data_only=True)


def _excel_call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call into openpyxl, quietly, turning whatever it raises into FileRejected."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)
    except StopIteration:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise FileRejected(
            "expected an Excel workbook (.xlsx) QuickBooks can write, but it cannot be "
            f"read: {exc.__class__.__name__}: {exc}"[:300]
        ) from exc


def _check_workbook_zip(path: Path) -> None:
    """Refuse archives that are not workbooks or would inflate beyond sane limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception as exc:  # zipfile raises several types for damaged archives
        raise FileRejected(
            f"expected an Excel workbook (.xlsx), but the archive cannot be read: {exc}"
        ) from exc
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or not any(
        n.startswith("xl/") for n in names
    ):
        raise FileRejected(
            "expected an Excel workbook (.xlsx); this zip archive holds other files"
        )
    if len(members) > MAX_XLSX_MEMBERS:
        raise FileRejected(
            f"expected an Excel workbook of at most {MAX_XLSX_MEMBERS} parts; this one "
            f"has {len(members)}"
        )
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_BYTES:
        raise FileRejected(
            f"expected a workbook of at most {MAX_XLSX_BYTES // 2**20} MB unpacked; "
            f"this one unpacks to {total // 2**20} MB. Export a shorter period or use CSV"
        )
    for m in members:
        if m.file_size > _SMALL_MEMBER and m.file_size > MAX_XLSX_RATIO * max(
            m.compress_size, 1
        ):
            raise FileRejected(
                f"expected an ordinary workbook, but part {m.filename!r} unpacks "
                f"{m.file_size // max(m.compress_size, 1)} times larger than it is "
                "stored (a decompression bomb?)"
            )


def _shows_cents(number_format: str | None) -> bool:
    if not number_format:
        return False
    return bool(re.search(r"\.[0#?]", _FORMAT_LITERALS.sub("", number_format)))


def _excel_cell(cell: Any) -> Any:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        exact = Decimal(str(value))
        if not exact.is_finite():
            return str(value)
        cents = exact != exact.to_integral_value()
        return Number(
            exact, cents or _shows_cents(getattr(cell, "number_format", None))
        )
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date | str):
        return value
    return str(value)
