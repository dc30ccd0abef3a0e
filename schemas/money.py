"""Money: ``Decimal`` in Python, integer minor units in SQL, decimal strings in JSON.

This module is the one place where amounts change representation. Nothing here (or
anywhere in billfold) touches ``float``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENTS = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}  # fmt: skip

_SYMBOLS = {"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$", "EUR": "€", "GBP": "£"}


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in its currency."""


def is_currency_code(code: str) -> bool:
    """Return True for a well-formed ISO 4217 code (three upper-case letters)."""
    return len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()


def exponent(currency: str) -> int:
    """Return the number of minor-unit digits of *currency* (2 unless ISO says otherwise)."""
    return _EXPONENTS.get(currency, 2)


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert *amount* to integer minor units of *currency*, refusing to round.

    ``Decimal("12.50")`` in USD is ``1250``; ``Decimal("12.505")`` raises MoneyError,
    because silently rounding a billing figure would make the store disagree with the
    billing system.
    """
    try:
        scaled = amount.scaleb(_EXPONENTS.get(currency, 2))
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
        scaled = amount.scaleb(_EXPONENTS.get(currency, 2))
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


def format_money(minor: int | None, currency: str, unknown: str = "unknown") -> str:
    """Return a human amount such as ``$1,234.50`` or ``1,234.500 KWD``."""
    if minor is None:
        return unknown
    places = exponent(currency)
    value = from_minor(abs(minor), currency)
    text = f"{value:,.{places}f}"
    sign = "-" if minor < 0 else ""
    symbol = _SYMBOLS.get(currency)
    if symbol:
        return f"{sign}{symbol}{text}"
    return f"{sign}{text} {currency}"
