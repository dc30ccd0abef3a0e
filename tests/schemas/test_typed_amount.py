"""Amounts typed by people (schemas.typed_amount): read as the locale means, or refused.

The property tests are the contract: whatever a person of a locale types for an amount
reads back to exactly that amount; any other text is either refused with a message or
read exactly as the locale reads it (digits and its decimal separator), so an amount is
never scaled by a power of ten.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import (
    format_decimal,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.money import exponent
from schemas.typed_amount import AmountError, convention, read_amount, read_minor

LOCALES = ("en_US", "en_GB", "en_NZ", "en_IN", "de_DE", "de_CH", "fr_CA", "fr_FR",
           "es_ES", "nl_NL", "sv_SE", "pt_BR", "ja_JP")  # fmt: skip
CURRENCIES = ("USD", "EUR", "GBP", "NZD", "CAD", "CHF", "INR", "JPY", "KWD", "CLF")


@pytest.mark.parametrize(
    ("text", "currency", "locale", "expected"),
    [
        ("8.50", "USD", "en_US", "8.50"),
        ("$1,234.50", "USD", "en_US", "1234.50"),
        (" 1,234.5 ", "USD", "en_US", "1234.50"),
        ("USD 12", "USD", "en_US", "12"),
        ("12 usd", "USD", "en_US", "12"),
        ("$8.50", "CAD", "en_US", "8.50"),  # the narrow symbol of CA$
        ("1 234.50", "USD", "en_US", "1234.50"),  # a space between groups is clear
        (".50", "USD", "en_US", "0.50"),
        ("8,50", "EUR", "de_DE", "8.50"),
        ("1.234,50 €", "EUR", "de_DE", "1234.50"),
        ("1.234", "EUR", "de_DE", "1234"),
        ("€ 8,50", "EUR", "de_DE", "8.50"),
        ("1\u202f234,50", "EUR", "fr_FR", "1234.50"),  # narrow no-break space
        ("1\u00a0234,50 $", "CAD", "fr_CA", "1234.50"),  # no-break space
        ("1 234,50", "CAD", "fr_CA", "1234.50"),  # a plain space typed for it
        ("1'234.50", "CHF", "de_CH", "1234.50"),
        ("CHF 1’234.50", "CHF", "de_CH", "1234.50"),
        ("12,34,567.50", "INR", "en_IN", "1234567.50"),
        ("1,234,567.50", "INR", "en_IN", "1234567.50"),
        ("£8.50", "GBP", "en_GB", "8.50"),
        ("$8.50", "NZD", "en_NZ", "8.50"),
        ("1,500", "JPY", "en_US", "1500"),
        ("1.234", "KWD", "en_US", "1.234"),
        ("1,234.500", "KWD", "en_US", "1234.5"),
        ("１２３", "USD", "en_US", "123"),  # full-width digits
        ("\u200f8.50\u200e", "USD", "en_US", "8.50"),  # direction marks around
    ],
)
def test_what_a_person_of_the_locale_types_is_read_exactly(
    text, currency, locale, expected
):
    assert read_amount(text, currency, locale) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "currency", "locale", "says", "readings"),
    [
        # the case: the web form stored 850.00 for this
        ("8,50", "USD", "en_US", "Did you mean 8.50?", ("8.50", "850")),
        ("8.50", "EUR", "de_DE", "Did you mean 8,50?", ("8.50", "850")),
        ("8.50", "CAD", "fr_CA", "Did you mean 8,50?", ("8.50", "850")),
        ("1.234,50", "USD", "en_US", "Did you mean 1234.50?", ("1234.50",)),
        ("1 234,50", "USD", "en_US", "Did you mean 1234.50?", ("1234.50",)),
        ("1,23,4", "USD", "en_US", "is not an amount as written here", ()),
        ("0,50", "USD", "en_US", "Did you mean 0.50?", ("0.50", "50")),
        ("8.505", "USD", "en_US", "has 3 decimal places, but USD", ("8505",)),
        ("8.500", "USD", "en_US", "has 3 decimal places", ("8500",)),
        ("1.5", "JPY", "en_US", "JPY amounts have no decimal places", ()),
        ("1,234", "KWD", "en_US", "could mean 1234.000 or 1.234", ("1234", "1.234")),
        ("1.234", "KWD", "de_DE", "could mean 1234,000 or 1,234", ("1234", "1.234")),
        ("0", "USD", "en_US", "is zero", ()),
        ("0.00", "USD", "en_US", "is zero", ()),
        ("-5", "USD", "en_US", "below zero", ()),
        ("(5.00)", "USD", "en_US", "below zero", ()),
        ("$-5", "USD", "en_US", "below zero", ()),
        ("5-", "USD", "en_US", "below zero", ()),
        ("1e999999", "USD", "en_US", "exponent", ()),
        ("1E5", "USD", "en_US", "exponent", ()),
        ("NaN", "USD", "en_US", "is not an amount", ()),
        ("Infinity", "USD", "en_US", "is not an amount", ()),
        ("inf", "USD", "en_US", "is not an amount", ()),
        ("lots", "USD", "en_US", "is not an amount", ()),
        ("€5", "USD", "en_US", "has the sign €, but this invoice is in USD", ()),
        ("5 EUR", "USD", "en_US", "is in EUR, but this invoice is in USD", ()),
        ("", "USD", "en_US", "Enter an amount", ()),
        ("   ", "USD", "en_US", "Enter an amount", ()),
        ("$", "USD", "en_US", "not an amount", ()),
        ("1" * 16, "USD", "en_US", "too large", ()),
        ("9" * 70, "USD", "en_US", "too long", ()),
        ("2025-06-01", "USD", "en_US", "is not an amount", ()),
        ("1,,000", "USD", "en_US", "is not an amount as written here", ()),
        ("1.000.00", "USD", "en_US", "is not an amount as written here", ()),
        ("<b>5</b>", "USD", "en_US", "is not an amount", ()),
    ],
)
def test_anything_else_is_refused_with_what_it_could_mean(
    text, currency, locale, says, readings
):
    with pytest.raises(AmountError) as caught:
        read_amount(text, currency, locale)
    assert says in str(caught.value)
    assert caught.value.readings == tuple(Decimal(r) for r in readings)


def test_the_message_names_the_locale_and_how_amounts_are_written_there():
    with pytest.raises(AmountError) as caught:
        read_amount("8,50", "USD", "en_US")
    assert str(caught.value) == (
        "“8,50” could mean 8.50 or 850.00. Did you mean 8.50? In English (United "
        "States), amounts are written like 1,234.56: type 8.50."
    )


def test_minor_units_come_out_exact():
    assert read_minor("1.234,56", "EUR", "de_DE") == 123456
    assert read_minor("1,500", "JPY", "en_US") == 1500
    assert read_minor("1.5", "CLF", "en_US") == 15000


# --- properties ------------------------------------------------------------------


@st.composite
def amounts(draw):  # type: ignore[no-untyped-def]
    """(locale, currency, value) with a value a real invoice could carry."""
    locale = draw(st.sampled_from(LOCALES))
    currency = draw(st.sampled_from(CURRENCIES))
    places = exponent(currency)
    minor = draw(st.integers(min_value=1, max_value=10**12))
    return locale, currency, Decimal(minor).scaleb(-places)


def _written(value: Decimal, currency: str, locale: str, *, groups: bool) -> str:
    """*value* written with the locale's symbols (grouped by hand: Babel 2.19 drops
    de_CH's separators in numbers of seven digits or more)."""
    places = exponent(currency)
    whole, _, fraction = f"{value:.{places}f}".partition(".")
    if groups:
        last, earlier = Locale.parse(locale).decimal_formats[None].grouping
        parts = [whole[-last:]]
        rest = whole[:-last]
        while rest:
            parts.insert(0, rest[-earlier:])
            rest = rest[:-earlier]
        whole = get_group_symbol(locale).join(parts)
    return whole + (get_decimal_symbol(locale) + fraction if places else "")


def _renderings(value: Decimal, currency: str, locale: str) -> list[str]:
    """How a person of *locale* writes *value*: with or without grouping, symbol, code."""
    plain = _written(value, currency, locale, groups=False)
    grouped = _written(value, currency, locale, groups=True)
    symbol = get_currency_symbol(currency, locale)
    return [
        plain,
        grouped,
        grouped.replace("\u00a0", " ").replace("\u202f", " "),
        f"{symbol}{grouped}",
        f"{plain} {currency}",
        f"{currency} {grouped}",
        f"{symbol}{plain}",
        f"{grouped}\u00a0{symbol}",
        format_decimal(value, format="0.######", locale=locale),
    ]


def _lone_group_of_three(text: str, locale: str) -> bool:
    conv = convention(locale)
    digits_and_marks = [c for c in text if c in ".,"]
    return digits_and_marks == [conv.group] and conv.group in ".,"


@settings(max_examples=400, deadline=None)
@given(amounts())
def test_any_amount_as_a_person_of_the_locale_writes_it_reads_back_exactly(case):
    locale, currency, value = case
    for text in _renderings(value, currency, locale):
        try:
            got = read_amount(text, currency, locale)
        except AmountError as exc:
            # The one refusal of well-written text: 1,234 in a currency with three
            # decimal places could be 1234 or 1.234 (the message offers both).
            assert exponent(currency) >= 3 and _lone_group_of_three(text, locale), (
                text,
                str(exc),
            )
            assert value in exc.readings
        else:
            assert got == value, (text, locale, currency)


def _locale_reading(text: str, locale: str) -> Decimal:
    """The oracle: the locale's own reading, its digits and its decimal separator."""
    conv = convention(locale)
    kept = "".join(
        "." if c == conv.decimal else c
        for c in text.translate({0xFF10 + i: 0x30 + i for i in range(10)})
        if c.isascii() and (c.isdigit() or c == conv.decimal)
    )
    return Decimal(kept)


TYPEABLE = "0123456789.,' -()$€£¥\u00a0\u202fEeUSDaNn+"


@st.composite
def typed_texts(draw):  # type: ignore[no-untyped-def]
    """Anything typeable: random characters, or digit runs with random separators."""
    if draw(st.booleans()):
        return draw(st.text(alphabet=TYPEABLE, max_size=24))
    runs = draw(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=4),
                         min_size=1, max_size=5))  # fmt: skip
    seps = draw(st.lists(st.sampled_from([".", ",", " ", "'", "\u00a0"]),
                         min_size=len(runs) - 1, max_size=len(runs) - 1))  # fmt: skip
    body = runs[0] + "".join(s + r for s, r in zip(seps, runs[1:], strict=True))
    around = draw(st.sampled_from(["", "$", "€", "USD ", " EUR", "-"]))
    return around + body if draw(st.booleans()) else body + around


@pytest.mark.slow  # long fuzz: many generated cases, most through a store
@settings(max_examples=1500, deadline=None)
@given(
    typed_texts(),
    st.sampled_from(LOCALES),
    st.sampled_from(("USD", "EUR", "JPY", "KWD")),
)
def test_any_typed_text_is_read_as_the_locale_reads_it_or_refused(
    text, locale, currency
):
    try:
        got = read_amount(text, currency, locale)
    except AmountError as exc:
        assert str(exc)  # a message, never an empty refusal
        return
    assert got == _locale_reading(text, locale), (text, locale, currency)
    assert got > 0
    assert -got.as_tuple().exponent <= exponent(currency)  # type: ignore[operator]
