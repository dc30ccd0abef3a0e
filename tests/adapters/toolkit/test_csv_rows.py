"""The CSV row reader: blocks of text split into the lines ``readline`` would give."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.toolkit import csv_rows
from adapters.toolkit.csv_rows import Row, read_rows


def readline_rows(text: str) -> list[Row]:
    """The rows as the reader gave them when it fed csv.reader one readline at a time."""
    file = io.StringIO(text, newline="")
    last = ""

    def lines():
        nonlocal last
        while line := file.readline():
            last = line
            yield line

    reader = csv.reader(lines())
    rows: list[Row] = []
    previous_end = 0
    for cells in reader:
        rows.append(Row(cells, previous_end + 1, reader.line_num))
        previous_end = reader.line_num
    if rows:
        rows[-1].at_eof = True
        if not last.endswith(("\n", "\r")) and last.count('"') % 2 == 1:
            rows[-1].truncated = True
    return rows


def outcome(read, text: str) -> tuple[list[Row] | None, str | None]:
    try:
        return list(read(text)), None
    except csv.Error as exc:
        return None, str(exc)


# Hostile CSV text: quotes, commas and every line end, in any order.
hostile = st.text(alphabet='ab ,"\r\n\t', max_size=60)


@settings(max_examples=400, deadline=None)
@given(text=hostile, block=st.sampled_from([1, 2, 3, 7, 1 << 16]))
def test_block_reading_gives_the_same_rows_lines_and_ends(text, block):
    """Line numbers, a cut-off last row and csv errors are those of line-by-line reading."""
    saved = csv_rows.BLOCK
    csv_rows.BLOCK = block
    try:
        got = outcome(lambda t: read_rows(io.StringIO(t, newline="")), text)
    finally:
        csv_rows.BLOCK = saved
    assert got == outcome(readline_rows, text)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_line_numbers_count_quoted_newlines_across_blocks(monkeypatch, end):
    monkeypatch.setattr(csv_rows, "BLOCK", 5)
    text = f'a,b{end}"one{end}two",3{end}x,y{end}'
    rows = list(read_rows(io.StringIO(text, newline="")))
    assert [(r.cells, r.line, r.last_line) for r in rows] == [
        (["a", "b"], 1, 1),
        ([f"one{end}two", "3"], 2, 3),
        (["x", "y"], 4, 4),
    ]
