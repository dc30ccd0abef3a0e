"""Errors an adapter may raise. Nothing else may escape ``Adapter.parse``.

AdapterError                  base class; the pipeline records it against the file
 +-- FileRejected             the whole file cannot be read as this format (missing
 |                            columns, undecidable encoding or date order, not this format)
 +-- CellError                one cell could not be read; adapters catch it and turn it
                              into a ``Rejection`` of the record that holds the cell
"""

from __future__ import annotations

import ast
import re

# How FileRejected.__str__ appends where the problem is: "(line 3, column Date, value 'x')".
_WHERE = re.compile(
    r"^(?P<reason>.*?) \((?:line (?P<line>\d+))?(?:, )?(?:column (?P<column>.*?))?"
    r"(?:, )?(?:value (?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"))?\)$",
    re.S,
)


class AdapterError(Exception):
    """Base class for errors raised while reading an export."""


class FileRejected(AdapterError):
    """The file as a whole cannot be imported; ``reason`` says what was expected."""

    def __init__(
        self,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column
        self.value = value

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        return f"{self.reason} ({', '.join(where)})" if where else self.reason


def split_reason(text: str) -> tuple[str, int | None, str | None, str | None]:
    """``(reason, line, column, value)`` of a rejection kept as text (the inverse of
    ``FileRejected.__str__``); a text without a place is all reason."""
    match = _WHERE.match(text)
    if match is None or not any(match.group(k) for k in ("line", "column", "value")):
        return text, None, None, None
    line = int(match.group("line")) if match.group("line") else None
    value = match.group("value")
    try:
        shown = str(ast.literal_eval(value)) if value else None
    except (ValueError, SyntaxError):
        shown = value  # not a repr after all: shown as written
    return match.group("reason"), line, match.group("column"), shown


class CellError(AdapterError):
    """A cell's text is not what its column needs; ``expected`` says what would be."""

    def __init__(self, value: str, expected: str, column: str | None = None) -> None:
        super().__init__(f"{value!r}: expected {expected}")
        self.value = value
        self.expected = expected
        self.column = column
