"""Amounts typed by people, read exactly as a person of the business's locale means them.

One reader for every form and the command line: mark paid, bulk marks, a customer's
"I've paid" and ``billfold mark-paid``. Export cells are read by ``adapters.cells``, not
here: an export follows its billing system's conventions, a person follows their locale's
(``[business] locale``, CLDR data through Babel).

``read_amount(text, currency, locale)`` returns the exact ``Decimal`` or raises
``AmountError``, whose message an office manager can act on and which names the
plausible readings when there are some ("“8,50” could mean 8.50 or 850.00").

Accepted: digits; the locale's decimal separator, once; the locale's grouping separator
(or a space) between correct groups (groups of three; en_IN's lakh groups too); the
invoice currency's code or symbol before or after; spaces, no-break spaces and invisible
direction marks around. Refused, each with its reason: text that does not follow the
locale (``8,50`` in en_US, ``8.50`` in de_DE, ``1,23,4``), more decimal places than the
currency has, a single thousands separator before three digits in a currency with three
decimal places (``1,234`` KWD: 1234 or 1.234), zero, negative amounts, another currency,
exponent notation, NaN and infinity, words, more than 15 whole digits, and empty text.
A value is never rescaled: whatever is accepted is what the locale's own reading gives.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import get_currency_symbol, list_currencies

from schemas.money import DEFAULT_LOCALE, MoneyError, exponent, to_minor, typed_text

MAX_LENGTH = 64
MAX_WHOLE_DIGITS = 15
_DIGITS = "0123456789"
_SPACE_GROUP = " "
# Characters people type for the same thing, folded to one: spaces (no-break, narrow,
# thin, figure), apostrophes (Swiss grouping), minus signs and dashes, full-width forms.
_FOLD = str.maketrans(
    {
        "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ", "\u205f": " ",
        "\u3000": " ", "\u2019": "'", "\u02bc": "'", "\u2032": "'", "\uff07": "'",
        "\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
        "\u2014": "-", "\ufe63": "-", "\uff0d": "-", "\uff0c": ",", "\uff0e": ".",
        "\uff04": "$", "\uffe5": "¥", "\uffe1": "£", "\uff08": "(", "\uff09": ")",
    }
)  # fmt: skip
_EXPONENT = re.compile(r"[0-9.,' ]*[0-9][eE][+-]?[0-9]+")


class AmountError(ValueError):
    """Typed text that is not an amount here; ``readings`` are what it could have meant."""

    def __init__(self, message: str, readings: tuple[Decimal, ...] = ()) -> None:
        super().__init__(message)
        self.readings = readings


@dataclass(frozen=True)
class Convention:
    """How people of one locale write a number."""

    decimal: str  # "." or ","
    group: str  # ",", ".", " " or "'"
    grouping: tuple[int, int]  # (last group, earlier groups): (3, 3); en_IN (3, 2)
    name: str  # "English (United States)"

    @property
    def example(self) -> str:
        """1234.56 as written here."""
        return f"1{self.group}234{self.decimal}56"

    @property
    def other_decimal(self) -> str:
        """The decimal separator of the other common convention."""
        return "," if self.decimal == "." else "."


@lru_cache(maxsize=64)
def convention(locale: str = DEFAULT_LOCALE) -> Convention:
    """Return the number conventions of *locale* (CLDR's latin-digit symbols)."""
    loc = Locale.parse(locale)
    symbols = loc.number_symbols.get("latn", {})
    decimal = _fold(symbols.get("decimal", "."))
    group = _fold(symbols.get("group", ","))
    if decimal not in ".,":
        decimal = "."
    if group not in ",. '" or group == decimal:
        group = "," if decimal == "." else "."
    pattern = loc.decimal_formats.get(None)
    grouping = tuple(pattern.grouping) if pattern is not None else (3, 3)
    return Convention(decimal, group, grouping, loc.get_display_name("en") or locale)


def read_amount(
    text: str | None, currency: str, locale: str = DEFAULT_LOCALE
) -> Decimal:
    """Read *text*, typed by a person, as an amount of *currency*; AmountError if unclear.

    The result is greater than zero, has no more decimal places than the currency and
    fits the store (``schemas.money.to_minor`` accepts it).
    """
    conv = convention(locale)
    places = exponent(currency)
    raw = text or ""
    shown = _shown(raw)
    if len(raw) > MAX_LENGTH:
        raise AmountError(f"{shown} is too long to be an amount.")
    body = _fold(raw).replace("\u066b", conv.decimal).replace("\u066c", conv.group)
    body = body.strip()
    if not body:
        raise AmountError(f"Enter an amount, like {_example(conv, currency)}.")
    body, negative, foreign = _peel(body, currency, locale)
    if negative:
        raise AmountError(
            f"{shown} is below zero. Enter the amount as a positive number, "
            f"like {_example(conv, currency)}."
        )
    if _EXPONENT.fullmatch(body):
        raise AmountError(
            f"{shown} is written with an exponent. Type the amount in full, "
            f"like {_example(conv, currency)}."
        )
    if foreign or not body or any(c not in _DIGITS + ".,' " for c in body):
        raise AmountError(_stray(shown, body, currency, conv))
    own = _conforming(body, conv.decimal, {conv.group, _SPACE_GROUP}, conv.grouping)
    if own is None:
        readings = _readings(body, conv, places)
        raise AmountError(_unclear(shown, readings, currency, locale), readings)
    value, typed_places = own
    if typed_places > places:
        readings = _readings(body, conv, places, whole_number=False)
        message = _too_precise(shown, typed_places, currency, readings, locale)
        raise AmountError(message, readings)
    if places >= 3 and _lone_group_of_three(body, conv):
        readings = (value, value.scaleb(-3))
        shown_readings = [_typed(r, currency, locale) for r in readings]
        raise AmountError(
            f"{shown} could mean {shown_readings[0]} or {shown_readings[1]}: {currency} "
            f"has {places} decimal places. Type the one you meant, without the "
            f"thousands separator: {shown_readings[0]} or {shown_readings[1]}.",
            readings,
        )
    if value == 0:
        raise AmountError(
            f"{shown} is zero. Enter an amount greater than 0, "
            f"like {_example(conv, currency)}."
        )
    whole = format(value.to_integral_value(rounding=ROUND_FLOOR), "f")
    if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS:
        raise AmountError(f"{shown} is too large to be an amount.")
    try:
        to_minor(value, currency)
    except MoneyError:
        raise AmountError(f"{shown} is too large to be an amount.") from None
    return value


def read_minor(text: str | None, currency: str, locale: str = DEFAULT_LOCALE) -> int:
    """``read_amount`` in integer minor units of *currency* (as the store keeps money)."""
    return to_minor(read_amount(text, currency, locale), currency)


# --- reading -----------------------------------------------------------------------


def _fold(text: str) -> str:
    """Fold look-alike characters; any script's digits become 0-9; drop invisible marks."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":  # direction marks, zero-width spaces, byte-order marks
            continue
        digit = unicodedata.decimal(ch, None) if category == "Nd" else None
        if digit is not None:
            out.append(str(digit))
        elif ch.isspace():
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out).translate(_FOLD)


@lru_cache(maxsize=512)
def _markers(currency: str, locale: str) -> tuple[str, ...]:
    """The ways a person may write *currency* beside an amount, longest first."""
    found = {currency.casefold()}
    for where in (locale, "en", "en_US"):
        symbol = _fold(get_currency_symbol(currency, where)).strip().casefold()
        found.add(symbol)
        narrow = symbol.lstrip("abcdefghijklmnopqrstuvwxyz")  # CA$ -> $, US$ -> $
        if narrow and not narrow[0].isalnum():
            found.add(narrow.strip())
    found.discard("")
    return tuple(sorted(found, key=len, reverse=True))


def _peel(body: str, currency: str, locale: str) -> tuple[str, bool, bool]:
    """Take signs, brackets and one currency marker off *body*.

    Returns (what is left, negative, another currency's marker was found).
    """
    negative = False
    marked = False
    changed = True
    while changed and body:
        changed = False
        if body[0] == "-" or body[-1] == "-":
            negative, changed = True, True
            body = body.strip("-").strip()
        if len(body) > 1 and body[0] == "(" and body[-1] == ")":
            negative, changed = True, True
            body = body[1:-1].strip()
        if not marked:
            folded = body.casefold()
            for marker in _markers(currency, locale):
                if folded.startswith(marker):
                    body, marked, changed = body[len(marker) :].strip(), True, True
                    break
                if folded.endswith(marker):
                    body, marked, changed = body[: -len(marker)].strip(), True, True
                    break
    foreign = bool(re.search(r"[^\W\d_]", body)) or any(
        unicodedata.category(c) == "Sc" for c in body
    )
    return body, negative, foreign


def _conforming(
    body: str, decimal: str, groups: set[str], grouping: tuple[int, int]
) -> tuple[Decimal, int] | None:
    """Read *body* with one convention; (value, decimal places typed) or None."""
    if any(c not in _DIGITS and c != decimal and c not in groups for c in body):
        return None
    if body.count(decimal) > 1:
        return None
    whole, _, fraction = body.partition(decimal)
    if fraction and not fraction.isdigit():
        return None
    used = {g for g in groups if g in whole}
    if len(used) > 1:
        return None
    if used:
        parts = whole.split(used.pop())
        if not _grouped(parts, grouping):
            return None
        whole = "".join(parts)
    if not whole and not fraction:
        return None
    if whole and not whole.isdigit():
        return None
    value = Decimal(f"{whole or '0'}.{fraction}" if fraction else whole)
    return value, len(fraction)


def _grouped(parts: list[str], grouping: tuple[int, int]) -> bool:
    """True when *parts* (split at the grouping separator) are proper groups."""
    if not all(p.isdigit() for p in parts) or parts[0].startswith("0"):
        return False
    for last, earlier in {grouping, (3, 3)}:
        if (
            len(parts[-1]) == last
            and all(len(p) == earlier for p in parts[1:-1])
            and len(parts[0]) <= earlier
        ):
            return True
    return False


def _readings(
    body: str, conv: Convention, places: int, *, whole_number: bool = True
) -> tuple[Decimal, ...]:
    """What *body* could mean if it was not written the locale's way.

    The other common convention's reading (``8,50`` in en_US as 8.50), the locale's
    decimal separator with another grouping (``1.234,50`` in fr_CA as 1234.50), and
    with *whole_number* a lone separator taken as a slip (``8,50`` as 850).
    """
    found: list[Decimal] = []
    tries = (
        (conv.other_decimal, {conv.decimal, _SPACE_GROUP, "'"} - {conv.other_decimal}),
        (conv.decimal, {".", ",", _SPACE_GROUP, "'"} - {conv.decimal}),
    )
    for decimal, groups in tries:
        reading = _conforming(body, decimal, groups, (3, 3))
        if (
            reading is not None
            and reading[1] <= places
            and reading[0] > 0
            and reading[0] not in found
        ):
            found.append(reading[0])
    separators = [c for c in body if c not in _DIGITS]
    if whole_number and len(separators) == 1 and body[0] in _DIGITS:
        whole = Decimal("".join(c for c in body if c in _DIGITS))
        if whole > 0 and whole not in found:
            found.append(whole)
    return tuple(found)


def _lone_group_of_three(body: str, conv: Convention) -> bool:
    """True for ``1,234`` (en_US) or ``1.234`` (de_DE): one separator, three digits."""
    separators = [c for c in body if c not in _DIGITS]
    return (
        separators == [conv.group]
        and conv.group in ".,"
        and len(body.split(conv.group)[1]) == 3
    )


# --- what people are told ----------------------------------------------------------


def _shown(raw: str) -> str:
    """The typed text, quoted, without control characters, cut to a readable length."""
    text = "".join(c for c in raw if unicodedata.category(c)[0] != "C").strip()
    text = re.sub(r"\s+", " ", text)
    if len(text) > 40:
        text = text[:39] + "…"
    return f"“{text}”"


def _typed(value: Decimal, currency: str, locale: str) -> str:
    """*value* as it should be typed here (the currency's places, no grouping)."""
    try:
        return typed_text(to_minor(value, currency), currency, locale)
    except MoneyError:
        return str(value)


def _example(conv: Convention, currency: str) -> str:
    places = exponent(currency)
    if places == 0:
        return f"1{conv.group}234"
    return f"1{conv.group}234{conv.decimal}{'56789'[:places]}"


def _written_like(conv: Convention, currency: str) -> str:
    return f"In {conv.name}, amounts are written like {_example(conv, currency)}"


def _unclear(
    shown: str, readings: tuple[Decimal, ...], currency: str, locale: str
) -> str:
    conv = convention(locale)
    typed = [_typed(r, currency, locale) for r in readings]
    if len(typed) >= 2:
        return (
            f"{shown} could mean {typed[0]} or {typed[1]}. Did you mean {typed[0]}? "
            f"{_written_like(conv, currency)}: type {typed[0]}."
        )
    if typed:
        return (
            f"{shown} is not how amounts are written here. Did you mean {typed[0]}? "
            f"{_written_like(conv, currency)}: type {typed[0]}."
        )
    return f"{shown} is not an amount as written here. {_written_like(conv, currency)}."


def _too_precise(
    shown: str,
    typed_places: int,
    currency: str,
    readings: tuple[Decimal, ...],
    locale: str,
) -> str:
    places = exponent(currency)
    has = "no decimal places" if places == 0 else f"{places} decimal places"
    given = "1 decimal place" if typed_places == 1 else f"{typed_places} decimal places"
    message = f"{shown} has {given}, but {currency} amounts have {has}."
    if readings:
        typed = _typed(readings[0], currency, locale)
        message += f" Did you mean {typed}? Type {typed}."
    return message


def _stray(shown: str, body: str, currency: str, conv: Convention) -> str:
    for code in re.findall(r"(?<![A-Za-z])[A-Za-z]{3}(?![A-Za-z])", body):
        if code.upper() != currency and code.upper() in _currency_codes():
            return f"{shown} is in {code.upper()}, but this invoice is in {currency}."
    signs = [c for c in body if unicodedata.category(c) == "Sc"]
    if signs:
        return f"{shown} has the sign {signs[0]}, but this invoice is in {currency}."
    return f"{shown} is not an amount. Type digits, like {_example(conv, currency)}."


@lru_cache(maxsize=1)
def _currency_codes() -> frozenset[str]:
    return frozenset(list_currencies())
