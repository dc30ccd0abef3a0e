"""The Xero export's fast path (adapters.xero_csv.plain) reads what the row path reads, item for item.

Every test parses a file twice, with the fast path and without it, and compares all
items: documents, rejections (reason, line, record, column, value) and notes, or the
refusal of the whole file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError
from adapters.toolkit.text import decode_head, sniff_bytes
from adapters.xero_csv import XeroCsv
from adapters.xero_csv.plain import PlainDocuments
from schemas.records import DocumentRecord, Rejection
from tests.adapters.test_xero_csv import BASE, HEADER
from tests.conftest import SAMPLES


def parse(path: Path, *, fast: bool, **options) -> tuple[list | None, str | None]:
    """All items of the file, or the refusal's message."""
    data = path.read_bytes()
    export = ExportFile(
        path=path, name=path.name, encoding=sniff_bytes(data), size=len(data)
    )
    adapter = XeroCsv()
    adapter.fast = fast
    try:
        return list(adapter.parse(export, ParseOptions(**options))), None
    except AdapterError as exc:
        return None, f"{type(exc).__name__}: {exc} {vars(exc)}"


def both(path: Path, **options) -> tuple[list | None, str | None]:
    fast = parse(path, fast=True, **options)
    assert fast == parse(path, fast=False, **options)
    return fast


def write(tmp_path: Path, rows: list[list[str]], end: str = "\n") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=end).writerows(rows)
    path = tmp_path / "export.csv"
    path.write_bytes(buffer.getvalue().encode())
    return path


def export_row(**cells: str) -> list[str]:
    merged = {**BASE, **cells}
    return [merged.get(h, "") for h in HEADER]


XERO_SAMPLES = sorted(
    path
    for path in SAMPLES.rglob("*.csv")
    if XeroCsv.detect(
        Head(
            path.name,
            path.read_bytes()[:65536],
            decode_head(
                path.read_bytes()[:65536], sniff_bytes(path.read_bytes()[:65536])
            ),
        )
    )
)


def test_there_are_xero_samples():
    assert len(XERO_SAMPLES) >= 4


@pytest.mark.parametrize("path", XERO_SAMPLES, ids=lambda p: p.name)
def test_every_xero_sample_reads_the_same_through_both_paths(path):
    for order in (None, "DMY", "MDY"):
        both(path, date_order=order)


def test_a_plain_export_is_read_by_the_fast_path(tmp_path, monkeypatch):
    """The comparison means something: plain documents never reach the row path."""
    path = write(
        tmp_path,
        [
            HEADER,
            export_row(InvoiceNumber="INV-1"),
            export_row(
                InvoiceNumber="INV-2",
                Type="Sales credit note",
                Total="-115.00",
                TaxTotal="-15.00",
                InvoiceAmountPaid="",
                InvoiceAmountDue="0.00",
                Status="Paid",
            ),
        ],
    )
    made = []
    real = PlainDocuments.document

    def counted(self, rows):
        record = real(self, rows)
        made.append(record)
        return record

    monkeypatch.setattr(PlainDocuments, "document", counted)
    items, refused = both(path)
    assert refused is None
    assert len(made) == 2 and all(isinstance(m, DocumentRecord) for m in made)
    assert [i.number for i in items if isinstance(i, DocumentRecord)] == [
        "INV-1",
        "INV-2",
    ]


def test_a_bad_cell_is_rejected_as_the_row_path_rejects_it(tmp_path):
    path = write(
        tmp_path,
        [HEADER, export_row(InvoiceNumber="INV-1", Total="12,50"), export_row()],
    )
    items, _ = both(path)
    rejection = next(i for i in items if isinstance(i, Rejection))
    assert (rejection.line, rejection.column, rejection.value) == (2, "Total", "12,50")


# Cells a hostile or damaged export may hold, per column the fast path reads.
_amount = st.sampled_from(
    ["", " ", "0.00", "115.00", "-115.00", "15.00", "100.00", "1.0000", "$115.00",
     "(15.00)", "15.00-", "1,115.00", "12,50", "abc", "-0.00", "1e3", " 115.00 ",
     "--5", "200.00", "0"]
)  # fmt: skip
_date = st.sampled_from(
    ["", "14/03/2025", "03/14/2025", "2025-03-14", "31/02/2025", "14-03-2025",
     "1/2/25", "14 Mar 2025", "soon", " 13/04/2025 "]
)  # fmt: skip
_choices = {
    "ContactName": st.sampled_from(["", " ", "Harbor Test Co", "Café\u0301 Co", "B"]),
    "EmailAddress": st.sampled_from(["", " x@y.example ", "ap@harbortest.example"]),
    "InvoiceNumber": st.sampled_from(["INV-1", "INV-1", "INV-2", " INV-2 ", "", "CN-1"]),
    "Reference": st.sampled_from(["", " ", "PO 1", "=cmd|' /C calc'!A0"]),
    "InvoiceDate": _date,
    "DueDate": _date,
    "Total": _amount,
    "TaxTotal": _amount,
    "InvoiceAmountPaid": _amount,
    "InvoiceAmountDue": _amount,
    "InventoryItemCode": st.sampled_from(["", " LABOUR ", "X"]),
    "Description": st.sampled_from(["", "Labour", " two\nlines ", 'a "quote"']),
    "Quantity": _amount,
    "UnitAmount": _amount,
    "LineAmount": _amount,
    "TaxAmount": _amount,
    "Currency": st.sampled_from(["", "NZD", "nzd", "NZ", "US$", "GBP"]),
    "Type": st.sampled_from(
        ["Sales invoice", "Sales credit note", "", "Bill", "Sales overpayment",
         "sales invoice", "Quote"]
    ),
    "Status": st.sampled_from(
        ["Paid", "Awaiting Payment", "Draft", "Voided", "Deleted", "", "Nope"]
    ),
}  # fmt: skip
# Cells a well-formed export holds: the documents the fast path makes itself.
_plain = st.fixed_dictionaries(
    {},
    optional={
        "InvoiceNumber": st.sampled_from(["INV-1", "INV-2", "CN-1"]),
        "Reference": st.sampled_from(["", "PO 1", " PO 2 "]),
        "InvoiceDate": st.sampled_from(["14/03/2025", "01/02/2025"]),
        "DueDate": st.sampled_from(["", "13/04/2025"]),
        "Description": st.sampled_from(["", "Labour", " two\nlines "]),
        "LineAmount": st.sampled_from(["100.00", "50.00", ""]),
        "Currency": st.sampled_from(["", "NZD", "nzd"]),
        "Type": st.sampled_from(["Sales invoice", "Sales credit note"]),
        "Status": st.sampled_from(["Awaiting Payment", "Draft", "Voided"]),
    },
)
_row = st.one_of(_plain, _plain, st.fixed_dictionaries({}, optional=_choices))


def _shape(row: list[str], cut: int) -> list[str]:
    """A row as damage leaves it: cut short, or with cells after the last column."""
    if cut < 0:
        return row + [""] * -cut if cut % 2 else row + ["x"] * -cut
    return row[: len(row) - cut] if cut else row


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(_row, st.sampled_from([0, 0, 0, 0, 1, 5, -1, -2]), st.booleans()),
        max_size=8,
    ),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
    order=st.sampled_from([None, "DMY", "MDY"]),
    chop=st.one_of(st.just(0), st.just(0), st.integers(1, 40)),
)
def test_random_and_hostile_exports_read_the_same_through_both_paths(
    tmp_path, rows, end, order, chop
):
    """Records, rejections, notes and refusals agree one for one."""
    lines = [HEADER]
    for cells, cut, twice in rows:
        row = _shape(export_row(**cells), cut)
        lines.extend([row, row] if twice else [row])
    path = write(tmp_path, lines, end)
    if chop:  # the file cut off part-way through its last row
        data = path.read_bytes()
        path.write_bytes(data[: max(len(data) - chop, 1)])
    both(path, date_order=order)
