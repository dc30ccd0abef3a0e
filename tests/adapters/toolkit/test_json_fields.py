"""Typed JSON fields: one set of readers, each API's rules."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from adapters.errors import CellError
from adapters.quickbooks_api import RULES as QUICKBOOKS
from adapters.toolkit.json_fields import Fields, fields
from adapters.xero_api import RULES as XERO


def test_amounts_are_exact_decimals_never_floats():
    f = Fields({"a": Decimal("338.81"), "b": 12, "c": " 1204.50 ", "d": None}, XERO)
    assert (f.amount("a"), f.amount("b"), f.amount("c"), f.amount("d")) == (
        Decimal("338.81"),
        Decimal(12),
        Decimal("1204.50"),
        None,
    )
    for bad in (True, "1,204.00", "12e3", [1], {"x": 1}):
        with pytest.raises(CellError, match="a JSON number such as 1234.56"):
            Fields({"a": bad}, XERO).amount("a")


def test_quickbooks_limits_decimal_places_and_magnitude_xero_does_not():
    many = {"a": Decimal("12.3456789"), "big": Decimal("1E+16")}
    with pytest.raises(CellError, match="at most 6 decimal places, below 10"):
        Fields(many, QUICKBOOKS).amount("a")
    with pytest.raises(CellError, match="below 10\\^16"):
        Fields(many, QUICKBOOKS).amount("big")
    assert Fields(many, QUICKBOOKS).quantity("a") == Decimal("12.3456789")
    assert Fields(many, XERO).amount("a") == Decimal("12.3456789")


def test_ids_written_as_numbers_are_text_for_quickbooks_only():
    assert Fields({"Id": 205}, QUICKBOOKS).text("Id") == "205"
    with pytest.raises(CellError, match="text"):
        Fields({"Id": 205}, XERO).text("Id")


def test_dotted_paths_and_lists_name_the_whole_path():
    f = Fields({"CustomerRef": "62", "Line": [{"Amount": "lots"}, 3]}, QUICKBOOKS)
    with pytest.raises(CellError) as e:
        f.text("CustomerRef.value")
    assert (e.value.column, e.value.expected) == ("CustomerRef", "an object with value")
    with pytest.raises(CellError) as e:
        f.objects("Line")
    assert (e.value.column, e.value.value) == ("Line[1]", "3")
    [line] = Fields({"Line": [{"Amount": "lots"}]}, QUICKBOOKS).objects("Line")
    with pytest.raises(CellError) as e:
        line.amount("Amount")
    assert e.value.column == "Line[0].Amount"
    with pytest.raises(CellError) as e:
        fields([], XERO, "Invoices[3]", "an invoice object")
    assert (e.value.column, e.value.value) == ("Invoices[3]", "[]")


def test_quickbooks_dates_are_iso_days_only():
    f = Fields(
        {"d": "2025-03-31", "us": "03/31/2025", "t": "2025-03-31T10:00:00"}, QUICKBOOKS
    )
    assert f.date("d") == date(2025, 3, 31)
    for key in ("us", "t"):
        with pytest.raises(CellError, match="a date written 2025-03-31"):
            f.date(key)
    with pytest.raises(CellError, match="a real calendar date"):
        Fields({"d": "2025-02-30"}, QUICKBOOKS).date("d")


def test_xero_dates_take_their_calendar_day_from_the_offset():
    f = Fields(
        {
            "local": "/Date(1740960000000+1300)/",  # 2025-03-03 00:00 UTC, NZ clock
            "before": "/Date(-86400000+0000)/",
            "iso": "2025-03-03T00:00:00",
            "far": "/Date(1740960000000+9900)/",
        },
        XERO,
    )
    assert f.date("local") == date(2025, 3, 3)
    assert f.timestamp("local") == datetime(2025, 3, 3)
    assert f.date("before") == date(1969, 12, 31)
    assert f.date("iso") == date(2025, 3, 3)
    with pytest.raises(CellError, match="offset out of range"):
        f.date("far")


def test_timestamps_with_offsets_become_naive_utc():
    for rules in (QUICKBOOKS, XERO):
        f = Fields(
            {"t": "2025-06-30T16:12:00-07:00", "old": "0001-01-01T00:00:00+05:00"},
            rules,
        )
        assert f.timestamp("t") == datetime(2025, 6, 30, 23, 12)
        with pytest.raises(CellError):
            f.timestamp("old")


def test_each_api_shows_a_bad_value_its_own_way():
    long = "x" * 100
    assert QUICKBOOKS.show(None) == "null" and XERO.show(None) == ""
    assert QUICKBOOKS.show(long).endswith("...") and XERO.show(long) == long
    assert QUICKBOOKS.show({"a": 1}) == XERO.show({"a": 1}) == '{"a": 1}'
