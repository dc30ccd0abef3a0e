"""Documents manifests: a CSV saying which account or record each document file belongs to.

Columns ``file, account, record, kind`` (with their usual synonyms): the account (key or
name) and optionally the invoice or credit note number a file belongs to, and what it is
(``invoice_copy``, ``job_sheet``, ``delivery_receipt``, ``contract`` …). A manifest is
not an export of records: the import engine detects it before the export adapters
(``is_manifest``), stores its rows and links the files they name (``sync.engine``).
Like every adapter this module reads only the file: a row that cannot be used is a
``Rejection`` naming its line, column and value.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adapters.toolkit.columns import normalise_header
from schemas.limits import LIMITS, clip, preview
from schemas.records import Rejection

DOCUMENT_KINDS = (
    "invoice_copy",
    "credit_note_copy",
    "job_sheet",
    "delivery_receipt",
    "receipt",
    "contract",
    "other",
)
_COLUMNS = {
    "file": ("file", "filename", "document", "documentname"),
    "account": ("account", "accountkey", "accountname", "customer", "customerid"),
    "record": ("record", "recordnumber", "number", "invoice", "invoicenumber"),
    "kind": ("kind", "type", "documenttype", "documentkind"),
}


@dataclass(frozen=True)
class ManifestRow:
    """One readable manifest row."""

    line: int
    file_name: str
    account_ref: str | None
    record_ref: str | None
    kind: str


def _columns(header: list[str]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        norm = normalise_header(name)
        for column, synonyms in _COLUMNS.items():
            if norm in synonyms and column not in found:
                found[column] = index
    if (
        "file" in found
        and "kind" in found
        and ("account" in found or "record" in found)
    ):
        return found
    return None


def is_manifest(head_text: str | None) -> bool:
    """True when a CSV's header row is a documents manifest (file, account, record, kind)."""
    if not head_text:
        return False
    first = head_text.lstrip("\ufeff").splitlines()[:1]
    if not first:
        return False
    try:
        header = next(csv.reader(first))
    except (csv.Error, StopIteration):
        return False
    return _columns(header) is not None


def normal_kind(text: str) -> str | None:
    """Return the document kind *text* names (``Job sheet`` -> ``job_sheet``), else None."""
    kind = re.sub(r"[\s\-]+", "_", text.strip().lower())
    if not kind:
        return "other"
    return kind if kind in DOCUMENT_KINDS else None


def read_manifest(path: Path, encoding: str) -> Iterator[ManifestRow | Rejection]:
    """Read a manifest's rows; a row that cannot be used is a Rejection.

    Raises OSError or UnicodeDecodeError when the file cannot be read as *encoding*.
    """
    with path.open(encoding=encoding, newline="") as text:
        first = text.read(1)
        if first != "\ufeff":
            text.seek(0)
        reader = csv.reader(text)
        header = next(reader, [])
        columns = _columns(header)
        assert columns is not None

        def cell(row: list[str], name: str) -> str:
            index = columns.get(name)
            return row[index].strip() if index is not None and index < len(row) else ""

        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            yield _row(line, row, cell)


def _row(line: int, row: list[str], cell) -> ManifestRow | Rejection:
    file_name = cell(row, "file")
    label = file_name or f"row {line}"
    if not file_name:
        return Rejection(reason="the file column is empty", line=line, column="file")
    account, record_ref = cell(row, "account"), cell(row, "record")
    too_long = _too_long(line, label, file_name, account, record_ref)
    if too_long is not None:
        return too_long
    kind = normal_kind(cell(row, "kind"))
    if kind is None:
        return Rejection(
            reason=f"kind must be one of {', '.join(DOCUMENT_KINDS)}",
            line=line,
            record=label,
            column="kind",
            value=clip(cell(row, "kind"), 100),
        )
    if not account and not record_ref:
        return Rejection(
            reason="name an account, a record number or both",
            line=line,
            record=label,
            column="account",
        )
    return ManifestRow(line, file_name, account or None, record_ref or None, kind)


def _too_long(
    line: int, label: str, file_name: str, account: str, record_ref: str
) -> Rejection | None:
    """A manifest row with a cell longer than its limit (schemas.limits), or None."""
    for column, value, field in (
        ("file", file_name, "file_name"), ("account", account, "customer_id"),
        ("record", record_ref, "number"),
    ):  # fmt: skip
        limit = LIMITS[field]
        if len(value) > limit.maximum:
            return Rejection(
                reason=f"expected at most {limit.maximum:,} characters in {column} "
                f"({limit.why}), found {len(value):,}",
                line=line, record=clip(label, 300), column=column, value=preview(value),
            )  # fmt: skip
    return None
