"""Errors an adapter may raise. Nothing else may escape ``Adapter.parse``.

AdapterError                  base class; the pipeline records it against the file
 +-- FileRejected             the whole file cannot be read as this format (missing
 |                            columns, undecidable encoding or date order, not this format)
 +-- CellError                one cell could not be read; adapters catch it and turn it
                              into a ``Rejection`` of the record that holds the cell
"""

from __future__ import annotations


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


class CellError(AdapterError):
    """A cell's text is not what its column needs; ``expected`` says what would be."""

    def __init__(self, value: str, expected: str, column: str | None = None) -> None:
        super().__init__(f"{value!r}: expected {expected}")
        self.value = value
        self.expected = expected
        self.column = column
