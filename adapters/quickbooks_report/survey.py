"""One pass over every row of a report before any record is read.

It decides what the records depend on: the day/month order, whether amounts carry
cents (a report exported "Without cents" has lost them), how customer groups nest, and
the footer (``Accrual Basis Monday, June 30, 2025 04:12 PM GMT-07:00``), which dates
the export.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.errors import CellError, FileRejected
from adapters.quickbooks_report.layout import (
    DIVIDED,
    THOUSANDS,
    rest_blank,
    row_label,
)
from adapters.toolkit.cells import MONTHS, FileDates, Number, parse_amount
from adapters.toolkit.columns import nfc_key
from adapters.toolkit.csv_rows import Row
from adapters.toolkit.table import Table
from schemas.records import ExportInfo, Item, Note

MONEY_COLUMNS = ("amount", "open_balance", "running_balance")
FOOTER = re.compile(r"^\s*(accrual|cash)\s+basis\b\s*(.*)$", re.IGNORECASE)
_STAMP = re.compile(
    r"^(?:[A-Za-z]+,\s*)?(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})"
    r"\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?"
    r"\s*(?P<zone>(?:GMT|UTC)\s*(?:(?P<sign>[+-])(?P<oh>\d{1,2}):?(?P<om>\d{2}))?)?\s*$"
)
_DECIMALS = re.compile(r"\.\d")
WITHOUT_CENTS = (
    "amounts with cents, but every amount in this report is a whole number ({example}): "
    "it was exported 'Without cents' and the cents are lost. In QuickBooks open the "
    "report, choose Customize > General > Number format, clear 'Without cents' and "
    "'Divide by 1000', run the report and export it again (if the amounts really are "
    "whole dollars, export to CSV, which writes them as 625.00)"
)


@dataclass(slots=True)
class Survey:
    """What the whole report says, learnt before its first record."""

    dates: FileDates
    cents: bool = False
    whole_example: tuple[int, str] | None = None
    nonzero: bool = False
    paths: dict[int, tuple[str, ...]] = field(default_factory=dict)
    flat: bool = False
    footer: str | None = None


def survey(rows: Iterator[Row], table: Table) -> Survey:
    """Read every row once; refuse a report without cents or with unclear groups."""
    found = Survey(FileDates(table.options.date_order or "MDY"))
    columns = table.columns
    date_columns = [columns.get(c) for c in ("date", "due_date")]
    money_columns = [columns[c] for c in MONEY_COLUMNS if c in columns]
    stack: list[str] = []
    closes = 0
    stray: tuple[int, str] | None = None
    last = ""
    for row in rows:
        if row.line <= table.header.line or row.blank:
            continue
        for index in money_columns:
            _survey_money(found, row.get(index), row.line)
        first = row_label(row)
        last = first
        if not first:
            for at in date_columns:
                cell = row.get(at)
                if isinstance(cell, str):
                    found.dates.scan(cell, row.line)
            continue
        if FOOTER.match(first):
            marker = THOUSANDS.search(first)
            if marker:
                raise FileRejected(
                    DIVIDED.format(marker=marker.group(0)), line=row.line
                )
            continue
        if first.casefold() == "total":
            stack.clear()
        elif first.casefold().startswith("total for "):
            closes += 1
            name = nfc_key(first[len("total for ") :])
            if name in stack:
                del stack[stack.index(name) :]
            elif stray is None:
                stray = (row.line, first)
        elif rest_blank(row):
            label = nfc_key(first)
            found.paths[row.line] = (*stack, label)
            stack.append(label)
    found.footer = last or None
    found.dates.settle()
    if found.nonzero and not found.cents:
        line, example = found.whole_example or (None, "")
        raise FileRejected(
            WITHOUT_CENTS.format(example=f"{example!r} on line {line}"), line=line
        )
    if found.paths and closes == 0:
        found.flat = True  # groups without subtotals cannot nest: each stands alone
    elif stray is not None and "customer" not in columns:
        line, text = stray
        raise FileRejected(
            f"expected each 'Total for' row to close a customer group above it, but "
            f"{text!r} closes none, so which customer a row belongs to is unclear",
            line=line,
        )
    return found


def _survey_money(found: Survey, cell: Any, line: int) -> None:
    value: Decimal | None
    if isinstance(cell, Number):
        value, cents, text = cell.value, cell.shows_cents, cell.text
    elif isinstance(cell, str) and cell.strip():
        try:
            value = parse_amount(cell)
        except CellError:
            return
        cents, text = bool(_DECIMALS.search(cell)), cell.strip()
    else:
        return
    if cents:
        found.cents = True
    elif value:
        found.nonzero = True
        if found.whole_example is None:
            found.whole_example = (line, text)


def export_info(footer: str | None, table: Table, title: str) -> Iterator[Item]:
    """The report's description and, from its footer, when it was run."""
    description = " · ".join(table.preamble) or title
    names = table.export_info().columns
    match = FOOTER.match(footer or "")
    if not match:
        yield ExportInfo(description=description, columns=names)
        return
    as_of = footer_time(match.group(2))
    yield ExportInfo(
        as_of=as_of,
        description=f"{description} ({match.group(1)} basis)",
        columns=names,
    )
    if as_of is None and match.group(2).strip():
        yield Note(
            f"the footer's time {match.group(2).strip()!r} has no time zone or is not "
            "understood; records are dated by the file instead"
        )


def footer_time(text: str) -> datetime | None:
    """Return the footer's time as naive UTC; None without a zone or when unreadable."""
    m = _STAMP.match(text.strip())
    if not m or not m.group("zone") or m.group("month").lower() not in MONTHS:
        return None
    hour = int(m.group("hour"))
    ampm = (m.group("ampm") or "").lower().replace(".", "")
    if ampm and not 1 <= hour <= 12:
        return None
    if ampm:
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    offset = timedelta(0)
    if m.group("sign"):
        offset = timedelta(hours=int(m.group("oh")), minutes=int(m.group("om")))
        if m.group("sign") == "-":
            offset = -offset
    try:
        local = datetime(
            int(m.group("year")),
            MONTHS[m.group("month").lower()],
            int(m.group("day")),
            hour,
            int(m.group("minute")),
            int(m.group("second") or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return (local - offset).replace(tzinfo=None)
