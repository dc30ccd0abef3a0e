"""Reading a bulk-invitation CSV: encodings, headers, quoted line breaks, limits."""

from __future__ import annotations

import pytest

from sync.access.invites import MAX_ROWS, clean_name, read_rows
from sync.errors import UsageError


def test_rows_keep_the_line_they_start_on_and_drop_header_and_blanks():
    data = (
        '\ufeffEMAIL,name,account\r\n\r\na@example.com,"Ann\r\nSmith",A\r\n'
        "b@example.com,Bo,B\r\n"
    ).encode()
    assert read_rows(data) == [
        (3, ["a@example.com", "Ann\r\nSmith", "A"]),
        (5, ["b@example.com", "Bo", "B"]),
    ]


def test_a_spreadsheet_saved_as_windows_text_is_read():
    data = "c@example.com,Café Owner,Bayview Café\r\n".encode("cp1252")
    assert read_rows(data) == [(1, ["c@example.com", "Café Owner", "Bayview Café"])]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"  \r\n", "the file is empty"),
        (b"a@example.com,\x00,A\n", "the file is not text"),
        (b"\x81\x8d\x8f\x90\x9d\xff\xfe", "the file is not text"),
        (b"email,name,account\r\n", "a header but no rows"),
        (b"a@example.com,x,A\n" * (MAX_ROWS + 1), f"more than {MAX_ROWS} rows"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(data, reason):
    with pytest.raises(UsageError, match=reason):
        read_rows(data)


def test_names_lose_control_characters_and_are_bounded():
    assert clean_name("  Jo\r\nBcc: x@evil.example\u202e ") == "Jo Bcc: x@evil.example"
    assert clean_name("\x00\t ") is None
    assert len(clean_name("x" * 1000)) == 200
