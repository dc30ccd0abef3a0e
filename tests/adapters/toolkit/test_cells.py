from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.errors import CellError, FileRejected
from adapters.toolkit.cells import (
    FileDates,
    Number,
    cell_amount,
    cell_text,
    parse_amount,
    parse_date,
    parse_flag,
    parse_timestamp,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234.5", "1234.5"),
        ("$1,234.56", "1234.56"),
        ('"$1,234.56"'.strip('"'), "1234.56"),
        ("(12.00)", "-12.00"),
        ("12.00-", "-12.00"),
        ("-50.00", "-50.00"),
        ("$(63.12)", "-63.12"),
        ("€ 10.00", "10.00"),
        ("NZ$640.0000", "640.0000"),
        ("USD 5", "5"),
        ("1,234", "1234"),
        ("−3.50", "-3.50"),
        (" 7 ", "7"),
        (".5", "0.5"),
    ],
)
def test_amount_styles(text, value):
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize(
    "text",
    ["N/A", "12,50", "1.234,56", "1,23", "(-5)x", "12..5", "abc", "1e5", "$", "--5"],
)
def test_unreadable_amounts_are_errors_never_guesses(text):
    with pytest.raises(CellError):
        parse_amount(text)


def test_empty_amount_is_unknown_not_zero():
    assert parse_amount("") is None
    assert parse_amount("   ") is None


_STYLES = [
    lambda d: f"{d:.2f}",
    lambda d: f"{d:,.2f}",
    lambda d: f"${d:,.2f}" if d >= 0 else f"-${-d:,.2f}",
    lambda d: f"({-d:,.2f})" if d < 0 else f"{d:,.2f}",
    lambda d: f"{-d:.2f}-" if d < 0 else f"{d:.2f}",
]


@given(
    st.decimals(
        min_value=-(10**9),
        max_value=10**9,
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ),
    st.sampled_from(_STYLES),
)
def test_every_supported_style_round_trips(amount, style):
    assert parse_amount(style(amount)) == amount


@pytest.mark.parametrize(
    ("text", "order", "value"),
    [
        ("2025-03-31", None, date(2025, 3, 31)),
        ("2025-03-28T17:00:00Z", None, date(2025, 3, 28)),
        ("03/31/2025", "MDY", date(2025, 3, 31)),
        ("31/03/2025", "DMY", date(2025, 3, 31)),
        ("1/30/94", "MDY", date(1994, 1, 30)),
        ("3/3/10", "MDY", date(2010, 3, 3)),
        ("31.03.2025", "DMY", date(2025, 3, 31)),
        ("3 Mar 2025", None, date(2025, 3, 3)),
        ("Mar 3, 2025", None, date(2025, 3, 3)),
        ("03-Mar-25", None, date(2025, 3, 3)),
    ],
)
def test_dates(text, order, value):
    assert parse_date(text, order) == value


@pytest.mark.parametrize(
    ("text", "order"),
    [("06/31/2025", "MDY"), ("2025-02-29", None), ("soon", None), ("03/04/2025", None)],
)
def test_bad_dates_are_errors(text, order):
    with pytest.raises(CellError):
        parse_date(text, order)


def test_timestamps_become_naive_utc():
    assert parse_timestamp("2025-06-30T16:12:00-07:00") == datetime(2025, 6, 30, 23, 12)
    assert parse_timestamp("2025-06-30T16:12:00Z") == datetime(2025, 6, 30, 16, 12)
    assert parse_timestamp("/Date(1539993600000+0000)/") == datetime(2018, 10, 20)
    assert parse_timestamp("/Date(-86400000)/") == datetime(1969, 12, 31)
    assert parse_timestamp("") is None
    with pytest.raises(CellError):
        parse_timestamp("yesterday")


def _scan(values, configured=None):
    dates = FileDates(configured)
    for line, v in enumerate(values, start=2):
        dates.scan(v, line)
    return dates


def test_file_order_from_one_proving_date():
    assert _scan(["03/04/2025", "25/04/2025"]).settle() == "DMY"
    assert _scan(["03/04/2025", "04/25/2025"]).settle() == "MDY"
    assert _scan(["2025-04-03"]).settle() is None


def test_ambiguous_file_needs_configuration():
    with pytest.raises(FileRejected, match="day/month order"):
        _scan(["03/04/2025", "05/06/2025"]).settle()
    assert _scan(["03/04/2025"], configured="DMY").settle() == "DMY"


def test_evidence_beats_configuration():
    assert _scan(["03/04/2025", "04/25/2025"], configured="DMY").settle() == "MDY"


def test_a_date_proving_the_other_order_rejects_the_file():
    dates = _scan(["25/03/2025"])
    dates.settle()
    assert dates.parse("03/04/2025", "date", 3) == date(2025, 4, 3)
    with pytest.raises(FileRejected, match="contradict"):
        dates.parse("03/25/2025", "date", 9)
    with pytest.raises(CellError):
        dates.parse("31/02/2025", "date", 10)  # an impossible date rejects the row only


def test_a_xero_date_beyond_the_calendar_is_a_cell_error_not_a_crash():
    with pytest.raises(CellError, match="between the years"):
        parse_timestamp("/Date(99999999999999999999)/")


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_a_timestamp_whose_offset_leaves_the_calendar_is_a_cell_error(text):
    # Once an OverflowError that escaped every adapter reading an updated-at time.
    with pytest.raises(CellError, match="between the years 1 and 9999"):
        parse_timestamp(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("Y", True), ("yes", True), ("TRUE", True), ("1", True), ("n", False),
     ("No", False), ("false", False), ("0", False), ("", None), ("  ", None)],
)  # fmt: skip
def test_flags(text, value):
    assert parse_flag(text) is value


def test_a_flag_that_is_neither_yes_nor_no_is_an_error():
    with pytest.raises(CellError, match="yes or no"):
        parse_flag("maybe")


def test_typed_spreadsheet_cells_read_as_their_values():
    assert cell_amount(Number(Decimal("12.5"), shows_cents=True)) == Decimal("12.5")
    assert cell_text(Number(Decimal("1E+3"), shows_cents=False)) == "1000"
    assert cell_text(date(2025, 3, 31)) == "2025-03-31"
    with pytest.raises(CellError, match="holds a date"):
        cell_amount(date(2025, 3, 31))
