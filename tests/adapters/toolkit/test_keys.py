"""Which customer-id cells are real ids (adapters.toolkit.keys)."""

from __future__ import annotations

import pytest

from adapters.toolkit.keys import is_placeholder_id, real_id

PLACEHOLDERS = [
    "", "   ", "\t", "null", "NULL", "Null", "none", "None", "nil", "N/A", "n/a", "NA",
    "na", "#N/A", "#n/a", "-", "--", "---", "0", "00", "0000", " 0 ", "?", "(none)",
    "<null>", "[null]", '"null"', "undefined", "Unknown", "NaN", "#REF!", "#VALUE!",
    "TBD", "\u2013", "00000000-0000-0000-0000-000000000000",
]  # fmt: skip
REAL = [
    "C-17", "0001", "10", "1", "A", "NAB", "Nancy", "none-such", "N/A-1", "#12",
    "CUST 0", "o", "-1", "c0ffee", "4d8a7b8e-0000-0000-0000-000000000001",
]  # fmt: skip


@pytest.mark.parametrize("text", PLACEHOLDERS)
def test_placeholders_are_missing_ids(text):
    assert is_placeholder_id(text)
    assert real_id(text) == ""


@pytest.mark.parametrize("text", REAL)
def test_real_ids_are_kept_exactly_but_trimmed(text):
    assert not is_placeholder_id(text)
    assert real_id(f" {text} ") == text


def test_an_id_is_compared_in_nfc():
    assert real_id("A\u0304-1") == "\u0100-1"
