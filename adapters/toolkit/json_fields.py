"""Typed fields of a JSON export: one set of readers, each API's rules.

An API adapter reads a record through ``Fields``: ``f.amount("TotalAmt")``,
``f.date("TxnDate")``, ``f.text("CustomerRef.value")`` (a dotted path walks nested
objects), ``f.objects("Line")`` (each element prefixed ``Line[2]``). A value of the
wrong type or shape raises ``CellError`` naming the field's whole path and showing the
value, which rejects the record that holds it.

What a field may hold is the API's rule (``JsonRules``): QuickBooks writes money with
at most six decimal places below 10^16 and some ids as JSON numbers, and its dates
only as ``2025-03-31``; Xero writes ``/Date(1740960000000+0000)/`` or ISO dates and
times. Money is never a float: the stream gives ``int`` or ``Decimal``, and a numeric
string such as ``"338.81"`` is read exactly. Text length limits are not checked here:
every adapter's records are held to ``schemas.limits`` by validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.errors import CellError
from adapters.toolkit.cells import parse_date, parse_timestamp
from schemas.limits import is_email_address
from schemas.records import Rejection

_DECIMAL_TEXT = re.compile(r"^-?\d+(?:\.\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# An ISO day with an optional time and offset, as Xero and connector pipelines write
# it: 2025-03-03, 2025-03-03T00:00:00, 2021-08-31T00:00:00+00:00, ...T10:00:00.123Z.
_ISO_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_EPOCH_DATE = re.compile(r"^/Date\((-?\d{1,16})(?:([+-])(\d{2})(\d{2}))?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class JsonRules:
    """What one API's fields may hold, and how its rejections word it.

    ``amount`` and ``date`` say what an amount and a date should look like. With
    ``places``, an amount has at most that many decimal places (a quantity four more)
    and is below 10^``magnitude``, so that sums stay exact. ``numbers_as_text`` reads
    an id written as a JSON number as text. ``epoch_dates`` accepts
    ``/Date(ms±hhmm)/`` (the offset gives the calendar day) and ISO dates with a time
    and an optional offset (the day is the one written: the offset says whose clock).
    ``null_shown`` is how a rejection shows a missing value; with ``clip_text`` a long
    text value is shown by its start.
    """

    amount: str
    date: str
    places: int | None = None
    magnitude: int = 16
    numbers_as_text: bool = False
    epoch_dates: bool = False
    null_shown: str = "null"
    clip_text: bool = True

    def show(self, value: Any) -> str:
        """Return a value as a rejection shows it: text as is, anything else as JSON."""
        if value is None:
            return self.null_shown
        if isinstance(value, str):
            if not self.clip_text:
                return value
            text = value
        elif isinstance(value, Decimal):
            text = str(value)
        else:
            text = json.dumps(value, default=str, ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + "..."


def refused_email(exc: CellError, record: str) -> Rejection:
    """The rejection of a bad email cell whose record is kept without it."""
    return Rejection(
        reason=f"expected {exc.expected}; the {record} was kept without it. Correct "
        "the address in the billing system and export again",
        record=record,
        column=exc.column,
        value=exc.value,
    )


def fields(value: Any, rules: JsonRules, where: str, what: str) -> Fields:
    """Return the fields of a JSON object found at *where*; refuse anything else."""
    if not isinstance(value, dict):
        raise CellError(rules.show(value), what, where)
    return Fields(value, rules)


class Fields:
    """Typed reads of one JSON object; a bad value raises CellError naming its path."""

    __slots__ = ("data", "prefix", "rules")

    def __init__(
        self, data: dict[str, Any], rules: JsonRules, prefix: str = ""
    ) -> None:
        self.data = data
        self.rules = rules
        self.prefix = prefix

    def column(self, path: str) -> str:
        """The field's whole path, as a rejection names it (``Line[0].Amount``)."""
        return f"{self.prefix}.{path}" if self.prefix else path

    def show(self, path: str) -> str:
        """The field's value as a rejection shows it."""
        return self.rules.show(self.raw(path))

    def raw(self, path: str) -> Any:
        """The value at a dotted *path*, None when any step is missing."""
        value: Any = self.data
        walked: list[str] = []
        for part in path.split("."):
            if value is None:
                return None
            if not isinstance(value, dict):
                raise CellError(
                    self.rules.show(value),
                    f"an object with {part}",
                    self.column(".".join(walked)),
                )
            value = value.get(part)
            walked.append(part)
        return value

    def object(self, path: str, what: str) -> Fields:
        """The object at *path* (missing counts as wrong: *what* says what it should be)."""
        value = self.raw(path)
        if not isinstance(value, dict):
            raise CellError(self.rules.show(value), what, self.column(path))
        return Fields(value, self.rules, self.column(path))

    def objects(
        self, path: str, what: str = "a list", each: str = "an object"
    ) -> list[Fields]:
        """The objects of a list field, each prefixed with its place (``Line[2]``)."""
        value = self.raw(path)
        if value is None:
            return []
        if not isinstance(value, list):
            raise CellError(self.rules.show(value), what, self.column(path))
        found = []
        for i, element in enumerate(value):
            column = f"{self.column(path)}[{i}]"
            if not isinstance(element, dict):
                raise CellError(self.rules.show(element), each, column)
            found.append(Fields(element, self.rules, column))
        return found

    def text(self, path: str) -> str | None:
        """Text without outer spaces; None when missing, null or empty."""
        value = self.raw(path)
        if value is None:
            return None
        if isinstance(value, str):
            if "\x00" in value:  # valid JSON ("\u0000"), but no store keeps it
                raise CellError(
                    self.rules.show(value), "text without NUL characters",
                    self.column(path),
                )  # fmt: skip
            return value.strip() or None
        if (
            self.rules.numbers_as_text
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            return str(value)
        raise CellError(self.rules.show(value), "text", self.column(path))

    def email(self, path: str) -> str | None:
        """One email address, or None; anything else (a name with it, a list, markup)
        raises CellError. Callers keep the record without it (``refused_email``)."""
        value = self.text(path)
        if value is not None and not is_email_address(value):
            raise CellError(
                self.rules.show(value),
                "one email address such as name@example.com",
                self.column(path),
            )
        return value

    def required_text(self, path: str, what: str) -> str:
        """Text that must be there; *what* says what it is."""
        value = self.text(path)
        if value is None:
            raise CellError("", what, self.column(path))
        return value

    def enum(self, path: str, values: Mapping[str, Any], expected: str) -> Any:
        """What *values* maps the field's text to; anything else is refused."""
        text = self.text(path) or ""
        if text not in values:
            raise CellError(text, expected, self.column(path))
        return values[text]

    def amount(self, path: str, *, places: int | None = None) -> Decimal | None:
        """A money field as ``Decimal`` (a JSON number, or a string of one)."""
        value = self.raw(path)
        if value is None:
            return None
        expected = self.rules.amount
        if isinstance(value, bool):
            raise CellError(self.rules.show(value), expected, self.column(path))
        if isinstance(value, int):
            value = Decimal(value)
        elif isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
            value = Decimal(value.strip())
        if not isinstance(value, Decimal) or not value.is_finite():
            raise CellError(self.rules.show(value), expected, self.column(path))
        places = self.rules.places if places is None else places
        if places is not None:
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int)
            magnitude = self.rules.magnitude
            if value and (value.adjusted() >= magnitude or exponent < -places):
                raise CellError(
                    self.rules.show(value),
                    f"{expected} (at most {places} decimal places, below "
                    f"10^{magnitude})",
                    self.column(path),
                )
        return value

    def quantity(self, path: str) -> Decimal | None:
        """A quantity or unit price: an amount with four more decimal places."""
        places = self.rules.places
        return self.amount(path, places=None if places is None else places + 4)

    def required_amount(self, path: str, what: str) -> Decimal:
        """An amount that must be there; *what* says what it is."""
        value = self.amount(path)
        if value is None:
            raise CellError("", what, self.column(path))
        return value

    def date(self, path: str) -> date | None:
        """A calendar date (with ``epoch_dates``, the day where the offset says)."""
        text = self._date_text(path)
        if text is None:
            return None
        column = self.column(path)
        if not self.rules.epoch_dates:
            if not _ISO_DATE.match(text):
                raise CellError(text, self.rules.date, column)
            try:
                return parse_date(text, None)
            except CellError as exc:
                raise CellError(text, exc.expected, column) from None
        moment = self._epoch(text, column)
        if moment is not None:
            return moment[1].date()
        if not _ISO_DATE_TIME.match(text):
            raise CellError(text, self.rules.date, column)
        try:
            return datetime.fromisoformat(text).date()  # the day written, whatever zone
        except ValueError as exc:
            raise CellError(text, f"a real calendar date ({exc})", column) from None

    def timestamp(self, path: str) -> datetime | None:
        """A moment as naive UTC (ISO with an offset or ``Z``; naive ISO is UTC)."""
        text = self._date_text(path)
        column = self.column(path)
        if not self.rules.epoch_dates:
            try:
                return parse_timestamp(text or "")
            except CellError as exc:
                raise CellError(text or "", exc.expected, column) from None
        if text is None:
            return None
        moment = self._epoch(text, column)
        if moment is not None:
            return moment[0]
        try:
            found = datetime.fromisoformat(text)
            if found.tzinfo is not None:
                found = found.astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise CellError(text, self.rules.date, column) from None
        return found

    def _date_text(self, path: str) -> str | None:
        value = self.raw(path)
        if isinstance(value, str):
            return value.strip() or None
        if value is None or self.rules.numbers_as_text:
            return self.text(path)
        raise CellError(self.rules.show(value), self.rules.date, self.column(path))

    def _epoch(self, text: str, column: str) -> tuple[datetime, datetime] | None:
        """Return (UTC, local) naive times of ``/Date(ms±hhmm)/``; None for other text.

        The milliseconds count from the epoch in UTC; the optional offset says where
        the organisation's clock stood, so the local time is the calendar day shown.
        """
        m = _EPOCH_DATE.match(text)
        if not m:
            return None
        sign, hours, minutes = m.group(2), m.group(3), m.group(4)
        offset = timedelta(0)
        if sign:
            if int(hours) > 14 or int(minutes) > 59:
                raise CellError(
                    text, self.rules.date + " (offset out of range)", column
                )
            offset = timedelta(hours=int(hours), minutes=int(minutes))
            offset = -offset if sign == "-" else offset
        try:
            moment = (_EPOCH + timedelta(milliseconds=int(m.group(1)))).replace(
                tzinfo=None
            )
            return moment, moment + offset
        except OverflowError:
            raise CellError(
                text, self.rules.date + " (a date between years 1 and 9999)", column
            ) from None
