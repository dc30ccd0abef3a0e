"""Money: ``Decimal`` in Python, integer minor units in SQL, decimal strings in JSON.

This module is the one place where amounts change representation. Nothing here (or
anywhere in billfold) touches ``float``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import (
    NumberPattern,
    format_decimal,
    get_currency_symbol,
    parse_pattern,
)

# How people read and see money unless ``[business] locale`` says otherwise.
DEFAULT_LOCALE = "en_US"

# Minor-unit digits come from CLDR (Babel's ``currency_fractions``), except where CLDR's
# display digits differ from what billfold stores. CLDR shows some currencies without
# their ISO 4217 minor unit because no coins circulate (HUF, IDR, COP... show 0; ISO has
# 2; IQD shows 0, ISO has 3): billfold follows ISO 4217, the unit billing exports carry.
# Withdrawn codes (ADP, ESP, ITL...) keep the 2 billfold has always stored them with:
# changing a currency's exponent would rescale every stored amount in it by a power of 10.
_WHERE_CLDR_DIFFERS = {
    "AFN": 2, "ALL": 2, "COP": 2, "HUF": 2, "IDR": 2, "IQD": 3, "IRR": 2, "KPW": 2,
    "LAK": 2, "LBP": 2, "MGA": 2, "MMK": 2, "SLL": 2, "SOS": 2, "SYP": 2, "YER": 2,
    "ADP": 2, "BYR": 2, "ESP": 2, "ITL": 2, "LUF": 2, "MGF": 2, "MRO": 2, "STD": 2,
    "TMM": 2, "TRL": 2, "ZMK": 2, "ZWD": 2,
}  # fmt: skip


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in its currency."""


def is_currency_code(code: str) -> bool:
    """Return True for a well-formed ISO 4217 code (three upper-case letters)."""
    return len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """Return the number of minor-unit digits of *currency* (ISO 4217; 2 if unknown)."""
    if currency in _WHERE_CLDR_DIFFERS:
        return _WHERE_CLDR_DIFFERS[currency]
    fractions = get_global("currency_fractions")
    return int(fractions.get(currency, fractions["DEFAULT"])[0])


def is_locale(name: str) -> bool:
    """Return True when *name* is a locale CLDR knows (``en_US``, ``de_DE``, ``fr_CA``)."""
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert *amount* to integer minor units of *currency*, refusing to round.

    ``Decimal("12.50")`` in USD is ``1250``; ``Decimal("12.505")`` raises MoneyError,
    because silently rounding a billing figure would make the store disagree with the
    billing system.
    """
    try:
        scaled = amount.scaleb(exponent(currency))
        minor = int(scaled)
    except (InvalidOperation, ValueError, OverflowError) as exc:
        raise MoneyError(f"{amount} is not a finite amount") from exc
    if scaled != minor:
        raise MoneyError(
            f"{amount} has more decimal places than {currency} allows "
            f"({exponent(currency)})"
        )
    if abs(minor) >= 2**63:
        raise MoneyError(f"{amount} is too large to store")
    return minor


def round_to_minor(amount: Decimal, currency: str) -> int:
    """Convert *amount* to minor units rounding half-up (for informational line figures)."""
    try:
        scaled = amount.scaleb(exponent(currency))
        minor = int(scaled.to_integral_value(rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError, OverflowError) as exc:
        raise MoneyError(f"{amount} is not a finite amount") from exc
    if abs(minor) >= 2**63:
        raise MoneyError(f"{amount} is too large to store")
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    """Convert integer minor units back to an exact ``Decimal`` with the currency's places."""
    return Decimal(minor).scaleb(-exponent(currency))


def to_text(minor: int | None, currency: str) -> str | None:
    """Return minor units as a plain decimal string (``"1234.50"``), or None for unknown."""
    if minor is None:
        return None
    return str(from_minor(minor, currency))


def format_money(
    minor: int | None,
    currency: str,
    unknown: str = "unknown",
    locale: str = DEFAULT_LOCALE,
) -> str:
    """Return an amount as people of *locale* write it: ``$1,234.50``, ``1.234,50 €``.

    The currency's ISO places are always shown (CLDR's display digits are not used:
    see ``exponent``). Where a locale has no symbol for the currency, its code is set
    apart from the digits by a no-break space, as CLDR's currency spacing asks
    (Babel does not apply it): ``KWD 1,234.500``.
    """
    if minor is None:
        return unknown
    return _formatted(minor, currency, locale)


def format_unit_price(value: str | None, currency: str, locale: str) -> str:
    """A line's unit price (decimal text as stored) as money with the currency's places;
    a price with more places than the currency holds (``0.125``) is shown as written."""
    if not value:
        return ""
    try:
        return format_money(to_minor(Decimal(value), currency), currency, locale=locale)
    except (InvalidOperation, MoneyError):
        return value


@lru_cache(maxsize=8192)
def _formatted(minor: int, currency: str, locale: str) -> str:
    pattern, loc = _formatter(locale, currency)
    value = from_minor(minor, currency)
    return _spaced(pattern.apply(value, loc, currency=currency, currency_digits=False))


@lru_cache(maxsize=256)
def _formatter(locale: str, currency: str) -> tuple[NumberPattern, Locale]:
    """The locale's currency pattern with exactly the currency's ISO places, parsed."""
    return parse_pattern(_pattern(locale, currency)), Locale.parse(locale)


def typed_text(minor: int | None, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """Return an amount as a person of *locale* types it in a form: ``1234.50``, ``1234,50``.

    No symbol and no grouping, so it reads back exactly (``schemas.typed_amount``).
    """
    if minor is None:
        return ""
    places = exponent(currency)
    pattern = "0." + "0" * places if places else "0"
    return format_decimal(from_minor(minor, currency), format=pattern, locale=locale)


def _pattern(locale: str, currency: str) -> str:
    """The locale's currency pattern, its fraction set to the currency's ISO places."""
    places = exponent(currency)
    pattern = Locale.parse(locale).currency_formats["standard"].pattern
    fraction = "0." + "0" * places if places else "0"
    return re.sub(r"0(\.0+)?(?=[^0-9#.,]|$)", fraction, pattern)


def _spaced(text: str) -> str:
    """Put a no-break space between a letter code and a digit (``KWD1`` -> ``KWD 1``)."""
    return re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", "\u00a0", text)


def currency_symbol(currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """Return how *locale* writes *currency* (``$``, ``US$``, ``€``, ``KWD``)."""
    return get_currency_symbol(currency, locale)
