"""Read one cell of an export: amounts, dates, timestamps, flags.

Every function takes the cell's text exactly as the file has it and returns a typed
value, ``None`` for an empty cell, or raises ``CellError`` saying what was expected. No
function guesses: an amount in an unknown style or a date that fits no order is an
error, never a best effort. A spreadsheet's cells may arrive typed (``Number``, a
``date``); ``cell_text`` and ``cell_amount`` read those too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from adapters.errors import CellError, FileRejected

AMOUNT_EXPECTED = "an amount such as 1234.56, $1,234.56, (12.00) or 12.00-"
DATE_EXPECTED = "a date such as 2025-03-31, 03/31/2025 or 31/03/2025"

_CURRENCY_MARKS = re.compile(
    r"^(?:[A-Z]{3}|NZ\$|A\$|AU\$|US\$|CA\$|C\$|HK\$|S\$|R\$|[$€£¥₹])\s*|\s*(?:[A-Z]{3}|[$€£¥₹])$"
)
_PLAIN_NUMBER = re.compile(r"^\d+(?:\.\d+)?$|^\.\d+$")
_GROUPED_NUMBER = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_MINUS_SIGNS = "-\u2212\u2012\u2013"
FLAG_EXPECTED = "yes or no (Y, N, true, false, 1, 0)"
_FLAGS = {
    "y": True, "yes": True, "true": True, "1": True,
    "n": False, "no": False, "false": False, "0": False,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric spreadsheet cell: its exact value and whether its format shows cents."""

    value: Decimal
    shows_cents: bool

    @property
    def text(self) -> str:
        """The number written out in full (never in exponent notation)."""
        return format(self.value.normalize(), "f")


def cell_text(cell: str | Number | date) -> str:
    """Return a cell as text: a CSV cell as it is, a typed cell as it would be written."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, Number):
        return cell.text
    return cell.isoformat()


def cell_amount(cell: str | Number | date) -> Decimal | None:
    """Read an amount cell: text as ``parse_amount`` does, a number as its exact value."""
    if isinstance(cell, str):
        return parse_amount(cell)
    if isinstance(cell, Number):
        return cell.value
    raise CellError(cell_text(cell), AMOUNT_EXPECTED + " (this cell holds a date)")


def parse_flag(text: str) -> bool | None:
    """Return a yes/no cell as a bool, or None for an empty cell."""
    s = text.strip()
    if not s:
        return None
    flag = _FLAGS.get(s.casefold())
    if flag is None:
        raise CellError(text, FLAG_EXPECTED)
    return flag


@lru_cache(maxsize=8192)
def parse_amount(text: str) -> Decimal | None:
    """Return the ``Decimal`` an amount cell holds, or None for an empty cell.

    Accepts currency symbols or codes, ``,`` thousands separators, and negatives written
    ``-12.00``, ``(12.00)`` or ``12.00-``. The decimal mark is always ``.``; a value like
    ``12,50`` (decimal comma) is refused rather than read as 1250.
    """
    s = text.strip()
    if not s:
        return None
    signs = 0
    for step in ("paren", "minus", "symbol", "paren", "minus", "trailing"):
        if step == "symbol":
            s = _CURRENCY_MARKS.sub("", s).strip()
        elif step == "paren" and s.startswith("(") and s.endswith(")"):
            signs, s = signs + 1, s[1:-1].strip()
        elif step == "minus" and s[:1] in _MINUS_SIGNS and s[:1]:
            signs, s = signs + 1, s[1:].strip()
        elif step == "trailing" and s[-1:] in _MINUS_SIGNS and s[-1:]:
            signs, s = signs + 1, s[:-1].strip()
    if signs > 1:
        raise CellError(text, AMOUNT_EXPECTED + " (one sign, not two)")
    negative = signs == 1
    s = s.replace(" ", "").replace("\u00a0", "")
    if _GROUPED_NUMBER.match(s):
        s = s.replace(",", "")
    elif not _PLAIN_NUMBER.match(s):
        raise CellError(text, AMOUNT_EXPECTED)
    try:
        value = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - the regexes admit only digits
        raise CellError(text, AMOUNT_EXPECTED) from exc
    return -value if negative else value


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}  # fmt: skip
_NAMED_DMY = re.compile(r"^(\d{1,2})[\s\-]([A-Za-z]{3,9})\.?[\s\-,]+(\d{2}|\d{4})$")
_NAMED_MDY = re.compile(r"^([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{2}|\d{4})$")

DATE_ORDERS = ("DMY", "MDY")


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _make_date(text: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise CellError(text, f"a real calendar date ({exc})") from exc


def numeric_date_parts(text: str) -> tuple[int, int] | None:
    """Return the first two numbers of a ``nn/nn/yyyy`` date, or None for other forms."""
    m = _NUMERIC_DATE.match(text.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


@lru_cache(maxsize=8192)
def parse_date(text: str, order: str | None) -> date | None:
    """Return the date a cell holds, or None for an empty cell.

    ISO dates (optionally with a time) and month names need no order; ``nn/nn/yy[yy]``
    dates are read with *order* (``"DMY"`` or ``"MDY"``), which the caller decided for
    the whole file. Two-digit years 00-69 are 20xx, 70-99 are 19xx.
    """
    s = text.strip()
    if not s:
        return None
    m = _ISO_DATE.match(s)
    if m:
        return _make_date(text, int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _NUMERIC_DATE.match(s)
    if m:
        a, b, year = int(m.group(1)), int(m.group(2)), _year(m.group(3))
        if order == "DMY":
            return _make_date(text, year, b, a)
        if order == "MDY":
            return _make_date(text, year, a, b)
        raise CellError(text, "a date whose day/month order is known for this file")
    m = _NAMED_DMY.match(s)
    if m and m.group(2).lower() in MONTHS:
        return _make_date(
            text, _year(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1))
        )
    m = _NAMED_MDY.match(s)
    if m and m.group(1).lower() in MONTHS:
        return _make_date(
            text, _year(m.group(3)), MONTHS[m.group(1).lower()], int(m.group(2))
        )
    raise CellError(text, DATE_EXPECTED)


_XERO_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


@lru_cache(maxsize=8192)
def parse_timestamp(text: str) -> datetime | None:
    """Return a timestamp as naive UTC, or None for an empty cell.

    Accepts ISO 8601 with ``Z`` or an offset (a value without one is taken as UTC),
    a plain date (midnight UTC) and Xero's ``/Date(ms+zzzz)/`` (negative epochs too).
    """
    s = text.strip()
    if not s:
        return None
    m = _XERO_DATE.match(s)
    if m:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        try:
            moment = epoch + timedelta(milliseconds=int(m.group(1)))
        except (OverflowError, ValueError) as exc:
            raise CellError(text, "a timestamp between the years 1 and 9999") from exc
        return moment.replace(tzinfo=None)
    candidate = s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError as exc:
        raise CellError(text, "a timestamp such as 2025-06-30T16:12:00Z") from exc
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError as exc:  # 0001-01-01T00:00+05:00 is before the year 1
            raise CellError(text, "a timestamp between the years 1 and 9999") from exc
    return moment


class DateOrderScanner:
    """Decide a file's day/month order from the dates it holds.

    A first number above 12 proves day-first (D/M/Y); a second number above 12 proves
    month-first (M/D/Y). A file that proves both contradicts itself.
    """

    def __init__(self) -> None:
        self.dmy_proof: tuple[int, str] | None = None
        self.mdy_proof: tuple[int, str] | None = None
        self.ambiguous_example: tuple[int, str] | None = None

    def feed(self, text: str, line: int) -> None:
        """Look at one date cell found on *line*."""
        parts = numeric_date_parts(text)
        if parts is None:
            return
        first, second = parts
        if first > 12 >= second and self.dmy_proof is None:
            self.dmy_proof = (line, text.strip())
        elif second > 12 >= first and self.mdy_proof is None:
            self.mdy_proof = (line, text.strip())
        elif (
            first != second and max(first, second) <= 12 and not self.ambiguous_example
        ):
            self.ambiguous_example = (line, text.strip())

    @property
    def decided(self) -> bool:
        """True once the file has proved an order (no need to read further)."""
        return (self.dmy_proof is None) != (self.mdy_proof is None)

    def order(self, configured: str | None) -> str | None:
        """Return the proven order, else *configured*; raise CellError on a contradiction."""
        if self.dmy_proof and self.mdy_proof:
            (dl, dv), (ml, mv) = self.dmy_proof, self.mdy_proof
            raise CellError(
                dv,
                f"one day/month order for the whole file, but line {dl} ({dv}) is "
                f"day-first and line {ml} ({mv}) is month-first",
            )
        if self.dmy_proof:
            return "DMY"
        if self.mdy_proof:
            return "MDY"
        return configured


class FileDates:
    """One day/month order for a whole file: decided from its dates, then applied.

    Feed every date cell to ``scan`` (stop early once ``decided``), call ``settle`` to
    fix the order, then read cells with ``parse``. A file whose dates fit both orders
    needs the configured order; a file that proves both orders is refused whole.
    """

    def __init__(self, configured: str | None) -> None:
        self.scanner = DateOrderScanner()
        self.configured = configured
        self.order: str | None = None

    def scan(self, text: str, line: int) -> None:
        """Look at one date cell of the file."""
        self.scanner.feed(text, line)

    @property
    def decided(self) -> bool:
        """True once the file has proved an order."""
        return self.scanner.decided

    def settle(self) -> str | None:
        """Fix the file's order; raise FileRejected when it cannot be decided."""
        try:
            order = self.scanner.order(self.configured)
        except CellError as exc:
            raise FileRejected(
                f"the file's dates contradict each other: expected {exc.expected}"
            ) from exc
        if order is None and self.scanner.ambiguous_example is not None:
            line, value = self.scanner.ambiguous_example
            raise FileRejected(
                f"cannot tell day/month order: every date (e.g. {value!r} on line "
                f"{line}) reads both as day-first and month-first. Set date_order = "
                '"DMY" or "MDY" for this source, or export ISO dates (2025-03-31)',
                line=line,
                value=value,
            )
        self.order = order
        return order

    def parse(self, text: str, column: str, line: int) -> date | None:
        """Read a date cell; a cell proving the other order rejects the whole file."""
        try:
            return parse_date(text, self.order)
        except CellError as exc:
            parts = numeric_date_parts(text)
            if parts and self.order:
                first, second = parts
                other = (self.order == "DMY" and second > 12 >= first) or (
                    self.order == "MDY" and first > 12 >= second
                )
                if other:
                    proof = self.scanner.dmy_proof or self.scanner.mdy_proof
                    basis = (
                        f"line {proof[0]} ({proof[1]})"
                        if proof
                        else "the configured order"
                    )
                    raise FileRejected(
                        f"the file's dates contradict each other: {basis} fixes the "
                        f"order as {self.order}, but {text.strip()!r} on line {line} only "
                        "reads the other way round",
                        line=line,
                        column=column,
                        value=text,
                    ) from None
            raise CellError(text, exc.expected, column) from None
