"""A report's structure rows: customer groups, ``Total for …`` rows and the footer.

Customer group rows (a name and nothing else) open a group; a job's group nests inside
its parent's (or the row names the job ``Parent:Child``). ``Total for <group>`` and
``TOTAL`` rows close groups and are checks, never data: each stated total is compared
with the sum of the rows read inside it, and a difference is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from adapters.errors import CellError
from adapters.quickbooks_report.layout import rest_blank
from adapters.quickbooks_report.survey import FOOTER, Survey
from adapters.toolkit.cells import cell_amount, cell_text
from adapters.toolkit.columns import nfc_key
from adapters.toolkit.csv_rows import Row
from adapters.toolkit.table import Table
from schemas.records import Item, Note, Rejection

CHECKED_COLUMNS = ("amount", "open_balance")  # running balances are not sums


@dataclass(slots=True)
class Group:
    """An open customer group (or aging section) and the sums of its rows so far."""

    label: str
    path: tuple[str, ...]
    sums: dict[str, Decimal] = field(default_factory=dict)
    unreadable: int = 0


class Groups:
    """The groups open at the current row of one report, and its totals checked."""

    def __init__(self, table: Table, found: Survey) -> None:
        self.table = table
        self.survey = found
        self.stack: list[Group] = []
        self.grand = Group("TOTAL", ())
        self.totals_skipped = 0
        self.totals_differ = False
        self.footer_seen = False

    def path(self) -> tuple[str, ...]:
        """The customer path (``Parent``, ``Child``) of the innermost open group."""
        return self.stack[-1].path if self.stack else ()

    def read(self, row: Row, first: str) -> Iterator[Item]:
        """Read a row whose first cell holds *first*: a group, total or footer row."""
        if FOOTER.match(first):
            self.footer_seen = True
        elif first.casefold() == "total":
            yield from self._check(self.grand, row)
            self.stack.clear()
        elif first.casefold().startswith("total for "):
            name = nfc_key(first[len("total for ") :])
            at = next(
                (
                    i
                    for i in range(len(self.stack) - 1, -1, -1)
                    if self.stack[i].label == name
                ),
                None,
            )
            if at is None:
                yield Note(
                    f"{first!r} closes no group above it; its total was not checked",
                    row.line,
                )
                return
            yield from self._check(self.stack[at], row)
            del self.stack[at:]
        elif rest_blank(row):
            label = nfc_key(first)
            flat = self.survey.flat
            path = (label,) if flat else self.survey.paths.get(row.line)
            group = Group(label, path or (*self.path(), label))
            if flat:
                self.stack.clear()
            self.stack.append(group)
        else:
            yield Rejection(
                reason="expected a data row with an empty first cell, a customer row "
                "(a name and nothing else) or a 'Total for' row",
                line=row.line,
                record=first,
                value=row.preview(),
            )

    def add(self, row: Row) -> None:
        """Add a data row's amounts to every open group and to the grand total."""
        columns = self.table.columns
        values: dict[str, Decimal] = {}
        unreadable = False
        for column in CHECKED_COLUMNS:
            if column not in columns:
                continue
            try:
                values[column] = cell_amount(row.get(columns[column])) or Decimal(0)
            except CellError:
                unreadable = True
        for group in (*self.stack, self.grand):
            group.unreadable += unreadable
            for column, value in values.items():
                group.sums[column] = group.sums.get(column, Decimal(0)) + value

    def finish(self) -> Iterator[Note]:
        """Say how many total rows were checked, and whether the footer was there."""
        if self.totals_skipped:
            agree = "" if self.totals_differ else "; each matches the rows above it"
            yield Note(f"skipped {self.totals_skipped} total row(s){agree}")
        if not self.footer_seen:
            yield Note(
                "the report has no 'Accrual Basis …' footer line: the file may be cut "
                "short (an incomplete download?)"
            )

    def _check(self, group: Group, row: Row) -> Iterator[Note]:
        self.totals_skipped += 1
        for note in self._differences(group, row):
            self.totals_differ = True
            yield note

    def _differences(self, group: Group, row: Row) -> Iterator[Note]:
        first = row.text(0).replace("\ufeff", "").strip()
        for column in CHECKED_COLUMNS:
            index = self.table.columns.get(column)
            cell = row.get(index)
            if index is None or not cell_text(cell).strip():
                continue
            header = self.table.header.text(index)
            try:
                stated = cell_amount(cell)
            except CellError:
                yield Note(
                    f"{first!r}: the {header} total {cell_text(cell)!r} is not an "
                    "amount; not checked",
                    row.line,
                )
                continue
            if group.unreadable:
                yield Note(
                    f"{first!r}: the {header} total was not checked because "
                    f"{group.unreadable} row(s) above it have unreadable amounts",
                    row.line,
                )
                continue
            summed = group.sums.get(column, Decimal(0))
            if stated != summed:
                yield Note(
                    f"{first!r}: the report's {header} total is {stated} but the rows "
                    f"above it add up to {summed}; some rows may be missing or changed",
                    row.line,
                )
