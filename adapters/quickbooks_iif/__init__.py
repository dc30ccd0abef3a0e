"""QuickBooks Desktop IIF (Intuit Interchange Format): customers, invoices, credit memos,
payments and cash sales.

An IIF file is lines of cells separated by tabs (some tools write commas; the first
``!`` row tells). A row whose first cell is ``!KEYWORD`` names the columns of the
``KEYWORD`` rows after it (``rows``). A transaction is one ``TRNS`` row, its ``SPL``
distribution rows and ``ENDTRNS``, read or rejected as one unit (``reader``); its
amounts must balance (TRNS + Σ SPL = 0) (``transactions``). IIF never says what is
still due or which invoice a payment paid, so those stay unknown; an invoice with
``PAID`` = ``Y`` is settled (formats spec, section 4; README "QuickBooks Desktop IIF").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from adapters.base import ExportFile, Head, ParseOptions
from adapters.quickbooks_iif.reader import Reader
from adapters.quickbooks_iif.rows import (
    DATE_COLUMNS,
    Columns,
    Row,
    define,
    read_rows,
    unquote,
)
from adapters.toolkit.cells import FileDates
from adapters.toolkit.tabular import decide_date_order
from schemas.records import Item

# Keywords Intuit defines for IIF rows (lists and transactions); a file whose first row
# is "!" plus one of these is IIF.
KEYWORDS = frozenset(
    (
        "HDR", "TRNS", "SPL", "ENDTRNS", "CUST", "VEND", "EMP", "OTHERNAME", "ACCNT",
        "INVITEM", "CLASS", "CTYPE", "VTYPE", "TERMS", "PAYMETH", "SHIPMETH", "INVMEMO",
        "SALESREP", "SALESTAXCODE", "BUD", "TODO", "TIMERHDR", "TIMEACT", "PAYITEM",
        "PRICELEVEL", "CUSTITEMDICT", "CUSTNAMEDICT", "VENDITEMDICT", "VENDNAMEDICT",
        "EMPLOYEEDICT", "QBP EMPLOYEE",
    )
)  # fmt: skip


class QuickBooksIif:
    """Reads QuickBooks Desktop IIF exports (tab- or comma-separated)."""

    name = "quickbooks_iif"
    label = "QuickBooks Desktop IIF"
    # A comma-separated !TRNS row read as CSV: not billfold's generic contract.
    markers = frozenset(("trns", "trnstype"))

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a file whose first non-blank row is ``!`` plus an IIF keyword."""
        if head.text is None:
            return False
        for raw in head.text.splitlines():
            text = raw.lstrip("\ufeff").strip()
            if not text:
                continue
            first = unquote(re.split(r"[\t,]", text, maxsplit=1)[0].strip())
            if not first.startswith("!"):
                return False
            return " ".join(first[1:].split()).upper() in KEYWORDS
        return False

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the customers, documents and payments of an IIF export."""
        dates = self._date_order(export, options)
        reader = Reader(dates, options)
        with export.open_text() as file:
            yield from reader.items(read_rows(file))

    def _date_order(self, export: ExportFile, options: ParseOptions) -> FileDates:
        """Scan the transaction dates (stopping once the file proves an order).

        Intuit writes IIF dates month first, so a file whose dates fit both orders is
        read month first unless the source configures otherwise; a file whose dates
        prove day first (non-US QuickBooks) is read day first, and one that proves both
        is refused.
        """
        with export.open_text() as file:
            return decide_date_order(
                _transaction_dates(read_rows(file)), options.date_order or "MDY"
            )


def _transaction_dates(rows: Iterable[Row]) -> Iterator[tuple[int, list[str]]]:
    """Yield the date cells of every transaction row, with its line."""
    columns: dict[str, Columns] = {}
    for row in rows:
        if row.definition:
            if row.keyword in ("TRNS", "HDR"):
                columns[row.keyword] = define(row)
            continue
        found = columns.get(row.keyword)
        if found is not None:
            yield row.line, [found.cell(row, name).strip() for name in DATE_COLUMNS]
