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
