from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.money import MoneyError, format_money, from_minor, to_minor, to_text


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("-0.01", "USD", -1),
        ("640.0000", "NZD", 64000),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("0", "EUR", 0),
    ],
)
def test_to_minor_is_exact(amount, currency, minor):
    assert to_minor(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("12.505", "USD"),
        ("1.5", "JPY"),
        ("0.0001", "KWD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
    ],
)
def test_to_minor_refuses_to_round(amount, currency):
    with pytest.raises(MoneyError):
        to_minor(Decimal(amount), currency)


@given(
    st.decimals(
        min_value=-(10**12),
        max_value=10**12,
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_round_trip_through_minor_units_is_exact(amount):
    assert from_minor(to_minor(amount, "USD"), "USD") == amount


def test_three_dimes_make_thirty_cents_not_a_float():
    total = sum(to_minor(Decimal("0.10"), "USD") for _ in range(3))
    assert to_text(total, "USD") == "0.30"


def test_text_and_display_forms():
    assert to_text(123450, "USD") == "1234.50"
    assert to_text(None, "USD") is None
    assert to_text(1500, "JPY") == "1500"
    assert format_money(123450, "USD") == "$1,234.50"
    assert format_money(-5, "GBP") == "-£0.05"
    # en_US has no symbol for KWD: CLDR writes the code first, set apart by a no-break
    # space (before the locale was configurable this read "1,234.500 KWD").
    assert format_money(1234500, "KWD") == "KWD\u00a01,234.500"
    assert format_money(None, "USD") == "unknown"


# The exponents billfold stored amounts with before they came from CLDR (Babel). A
# currency's exponent must never change: every stored amount in it would be rescaled.
ISO_TABLE_BEFORE_BABEL = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}  # fmt: skip


def test_exponents_from_cldr_equal_what_billfold_has_always_stored():
    from babel.core import get_global
    from babel.numbers import list_currencies

    from schemas.money import exponent

    codes = set(get_global("currency_fractions")) | set(list_currencies())
    codes |= set(ISO_TABLE_BEFORE_BABEL) | {"XYZ", "ZZZ"}
    codes.discard("DEFAULT")
    changed = {
        code: exponent(code)
        for code in sorted(codes)
        if exponent(code) != ISO_TABLE_BEFORE_BABEL.get(code, 2)
    }
    assert changed == {}
    # ISO 4217 where CLDR shows fewer digits for display
    assert (exponent("IQD"), exponent("HUF"), exponent("IDR")) == (3, 2, 2)


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "shown"),
    [
        (123450, "USD", "en_US", "$1,234.50"),
        (123450, "USD", "en_GB", "US$1,234.50"),
        (123450, "GBP", "en_GB", "£1,234.50"),
        (123450, "NZD", "en_NZ", "$1,234.50"),
        (123450, "NZD", "en_US", "NZ$1,234.50"),
        (123450, "EUR", "de_DE", "1.234,50\u00a0€"),
        (123450, "CAD", "fr_CA", "1\u00a0234,50\u00a0$"),
        (1500, "JPY", "en_US", "¥1,500"),
        (1234, "IQD", "en_US", "IQD\u00a01.234"),  # ISO's 3 places, not CLDR's 0
        (-123450, "EUR", "de_DE", "-1.234,50\u00a0€"),
    ],
)
def test_money_is_shown_as_the_locale_writes_it(minor, currency, locale, shown):
    assert format_money(minor, currency, locale=locale) == shown


def test_typed_text_reads_back_in_its_locale():
    from schemas.money import typed_text
    from schemas.typed_amount import read_minor

    for locale in ("en_US", "de_DE", "fr_CA", "de_CH", "en_IN"):
        for minor, currency in ((123456789, "USD"), (1500, "JPY"), (1234, "KWD")):
            text = typed_text(minor, currency, locale)
            assert read_minor(text, currency, locale) == minor, (text, locale)


def test_a_unit_price_is_money_with_the_currency_places_or_shown_as_written():
    from schemas.money import format_unit_price

    assert format_unit_price("75", "USD", "en_US") == "$75.00"
    assert format_unit_price("1234.5", "EUR", "de_DE") == "1.234,50\xa0€"
    assert format_unit_price("0.125", "USD", "en_US") == "0.125"  # more places: as is
    assert format_unit_price("lots", "USD", "en_US") == "lots"
    assert format_unit_price(None, "USD", "en_US") == ""
