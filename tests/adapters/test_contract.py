"""The contract every adapter keeps, checked for each registered adapter on its samples.

Every built-in adapter and the example plugin (``example_plugin``) is held to the same
rules; an adapter's samples are the sample exports whose golden result names it.

- Detection gives each sample to its adapter alone; ``detect`` looks only at the head
  it is given (it opens no file) and answers every head, however hostile, with a bool.
- ``parse`` of a sample agrees with its golden result: the whole-file refusal, every
  rejection and every note the import reported come from the adapter as they are.
- ``parse`` yields only the documented items, no document with a negative total, and
  rejections with a reason (and a line, where the format has lines); parsing twice gives
  the same items and leaves the file as it was.
- Nothing but an ``AdapterError`` escapes ``parse``: not for hostile files (empty,
  binary, a 17 MiB field, a timestamp before the year 1), not for damaged samples.

Format-specific behaviour stays in each adapter's own test file.
"""

from __future__ import annotations

import builtins
import codecs
import io
import json
import os
import pathlib
from contextlib import contextmanager
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError, FileRejected
from adapters.registry import all_adapters, detect_adapter
from adapters.toolkit.text import HEAD_SIZE, decode_head, sniff_bytes
from schemas.records import DocumentRecord, Item, Note, Rejection
from tests.adapters.example_plugin.tiny_billing import TinyBillingCsv
from tests.conftest import SAMPLES

ADAPTERS = (*all_adapters(), TinyBillingCsv)
SAMPLE_DIRS = (SAMPLES, Path(__file__).parent / "example_plugin" / "samples")
ITEM_TYPES = get_args(Item)  # the documented item types: records, rejections, notes
# API responses are JSON: a record is named by its place in the file, not by a line.
WITHOUT_LINES = frozenset(("quickbooks_api", "xero_api"))


def _golden_samples() -> list[tuple[type, Path, dict]]:
    """(adapter, sample, golden result) for every sample with a golden file."""
    by_name = {a.name: a for a in ADAPTERS}
    found = []
    for folder in SAMPLE_DIRS:
        for golden in sorted(folder.glob("*/*.expected.json")) + sorted(
            folder.glob("*.expected.json")
        ):
            if golden.name.endswith(".copy.expected.json"):
                continue  # what the invoice copies show (tests/test_copy_golden.py)
            expected = json.loads(golden.read_text(encoding="utf-8"))
            sample = golden.with_name(golden.name.removesuffix(".expected.json"))
            found.append((by_name[expected["import"]["adapter"]], sample, expected))
    return found


GOLDEN = _golden_samples()
SAMPLES_OF = {a: [s for g, s, _ in GOLDEN if g is a] for a in ADAPTERS}


def _id(value: object) -> str:
    if isinstance(value, type):
        return value.name  # type: ignore[attr-defined]
    if isinstance(value, Path):
        return f"{value.parent.name}/{value.name}"
    return ""


def head(data: bytes, name: str = "export") -> Head:
    data = data[:HEAD_SIZE]
    return Head(name, data, decode_head(data, sniff_bytes(data)))


def parse(adapter: type, path: Path, **options: object) -> list:
    data = path.read_bytes()
    export = ExportFile(path=path, name=path.name, encoding=sniff_bytes(data))
    return list(adapter().parse(export, ParseOptions(**options)))  # type: ignore[arg-type]


def check_items(adapter: type, items: list) -> None:
    """What every item parse yields must be (the documented types and their rules)."""
    for item in items:
        assert isinstance(item, ITEM_TYPES), item
        if isinstance(item, DocumentRecord):
            assert item.total is None or item.total >= 0, item
        if isinstance(item, Rejection):
            assert item.reason.startswith("expected ") and len(item.reason) > 9, item
            if adapter.name not in WITHOUT_LINES:
                assert item.line is not None and item.line >= 1, item


@contextmanager
def no_files():
    """Make opening any file fail: detect must work from the head alone."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"detect opened a file: {args!r}")

    saved = builtins.open, io.open, os.open, pathlib.Path.open
    builtins.open = io.open = os.open = pathlib.Path.open = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        builtins.open, io.open, os.open, pathlib.Path.open = saved  # type: ignore[misc]


def test_every_adapter_has_samples_with_golden_results():
    assert {a.name: len(SAMPLES_OF[a]) > 0 for a in ADAPTERS} == {
        a.name: True for a in ADAPTERS
    }


# -- detection ---------------------------------------------------------------------


@pytest.mark.parametrize(("adapter", "sample", "expected"), GOLDEN, ids=_id)
def test_detection_gives_each_sample_to_its_adapter_alone(
    adapter, sample, expected, example_plugin
):
    h = head(sample.read_bytes(), sample.name)
    assert detect_adapter(h) is adapter
    specific = [a for a in ADAPTERS if not getattr(a, "fallback", False)]
    claimants = [a for a in specific if a.detect(h)]
    assert claimants == ([] if getattr(adapter, "fallback", False) else [adapter])


@pytest.mark.parametrize(("adapter", "sample", "expected"), GOLDEN, ids=_id)
def test_detect_looks_only_at_the_head(adapter, sample, expected):
    h = head(sample.read_bytes(), sample.name)
    answers = {a.name: a.detect(h) for a in ADAPTERS}
    with no_files():
        again = {a.name: a.detect(h) for a in ADAPTERS}
    assert again == answers
    assert answers[adapter.name] is True


HOSTILE_HEADS = {
    "empty": b"",
    "blank lines": b"\r\n\n\r",
    "lone CR": b"\rB",
    "NUL": b"\x00" * 64,
    "UTF-8 BOM only": codecs.BOM_UTF8,
    "UTF-16 BOM, odd bytes": codecs.BOM_UTF16_LE + b"a",
    "unclosed quote": b'"number,customer\n1,"a',
    "deep JSON": b"[" * 50_000,
    "JSON scalars": b'{"QueryResponse": 5, "Invoices": "x", "Fault": null}',
    "IIF keyword alone": b"!",
    "zip magic": b"PK\x03\x04xl/",
    "undecidable bytes": b"\x81\xff\xfe" * 10,
    "a huge cell": b"number," + b"9" * HEAD_SIZE,
}


@pytest.mark.parametrize("adapter", ADAPTERS, ids=_id)
def test_detect_answers_hostile_heads_with_a_bool(adapter):
    for name, data in HOSTILE_HEADS.items():
        assert adapter.detect(head(data)) in (True, False), name


@pytest.mark.parametrize("adapter", ADAPTERS, ids=_id)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_detect_answers_damaged_heads_with_a_bool(adapter, data):
    sample = data.draw(st.sampled_from(sorted(GOLDEN_BYTES)))
    damaged = _mutate(GOLDEN_BYTES[sample][:HEAD_SIZE], data)
    answer = adapter.detect(head(damaged))
    assert answer in (True, False)


# -- parse on the samples ----------------------------------------------------------


@pytest.mark.parametrize(("adapter", "sample", "expected"), GOLDEN, ids=_id)
def test_parse_agrees_with_the_golden_result(adapter, sample, expected):
    report = expected["import"]
    if report["status"] == "rejected":
        with pytest.raises(FileRejected) as refused:
            parse(adapter, sample)
        assert str(refused.value) == report["reason"]
        return
    before = sample.read_bytes()
    items = parse(adapter, sample)
    check_items(adapter, items)
    assert [repr(i) for i in parse(adapter, sample)] == [repr(i) for i in items]
    assert sample.read_bytes() == before
    rejected = [
        (r["line"], r["record"], r["column"], r["reason"]) for r in report["rejected"]
    ]
    for r in (i for i in items if isinstance(i, Rejection)):
        assert (r.line, r.record, r.column, r.reason) in rejected, r
    for note in (i for i in items if isinstance(i, Note)):
        text = f"line {note.line}: {note.message}" if note.line else note.message
        assert any(w[:120] == text[:120] for w in report["warnings"]), note


# -- nothing but AdapterError escapes ----------------------------------------------

HOSTILE_FILES = {
    "empty": b"",
    "blank lines": b"\n\n",
    "NUL bytes": b"\x00" * 100,
    "BOM only": codecs.BOM_UTF8,
    "UTF-16, cut in a character": codecs.BOM_UTF16_LE
    + "Number,".encode("utf-16-le")[:-1],
    "undecidable bytes": b"number,customer\n\x81\x8d\xff",
    "a 17 MiB field": b'number,customer,date,total\n1,"'
    + b"a" * (17 << 20)
    + b'",x,1\n',
    "an unclosed quote": b'number,customer,date,total\n1,"A,2025-01-01,5\n2,B,2025-01-02,6\n',
    "deep JSON": b'{"Invoices": ' + b"[" * 10_000,
    "a timestamp before the year 1 (CSV)": (
        b"number,customer,date,total,updated_at\n"
        b"1,A,2025-01-01,5.00,0001-01-01T00:00:00+05:00\n"
    ),
    "a timestamp before the year 1 (QuickBooks JSON)": json.dumps(
        {
            "QueryResponse": {
                "Invoice": [
                    {
                        "Id": "1",
                        "SyncToken": "0",
                        "TotalAmt": 5,
                        "CustomerRef": {"value": "7"},
                        "TxnDate": "2025-01-01",
                        "MetaData": {"LastUpdatedTime": "0001-01-01T00:00:00+05:00"},
                    }
                ]
            }
        }
    ).encode(),
    "a timestamp before the year 1 (Xero JSON)": (
        b'{"Invoices": [{"Type": "ACCREC", "InvoiceID": "i", "InvoiceNumber": "1", '
        b'"Status": "AUTHORISED", "Total": 5, "Contact": {"ContactID": "c"}, '
        b'"UpdatedDateUTC": "0001-01-01T00:00:00+05:00"}]}'
    ),
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE_FILES))
@pytest.mark.parametrize("adapter", ADAPTERS, ids=_id)
def test_hostile_files_are_read_or_refused_never_crash(adapter, hostile, tmp_path):
    path = tmp_path / "hostile"
    path.write_bytes(HOSTILE_FILES[hostile])
    try:
        items = parse(adapter, path)
    except AdapterError:
        return
    check_items(adapter, items)


GOLDEN_BYTES = {str(s): s.read_bytes() for _, s, _ in GOLDEN}


def _mutate(data: bytes, draw: st.DataObject) -> bytes:
    """Damage an export as transfers and editors do: re-save, cut, flip, insert, drop."""
    if draw.draw(st.booleans()):
        codec = draw.draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
        text = data.decode(sniff_bytes(data).codec or "latin-1", errors="replace")
        data = text.encode(codec, errors="replace")
    for _ in range(draw.draw(st.integers(0, 3))):
        op = draw.draw(
            st.sampled_from(["truncate", "flip", "insert", "delete", "line"])
        )
        at = draw.draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "truncate":
            data = data[:at]
        elif op == "flip" and data:
            data = (
                data[:at]
                + bytes([data[at] ^ draw.draw(st.integers(1, 255))])
                + data[at + 1 :]
            )
        elif op == "insert":
            data = data[:at] + draw.draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + draw.draw(st.integers(1, 200)) :]
        else:  # drop or repeat one line
            lines = data.splitlines(keepends=True)
            if lines:
                i = draw.draw(st.integers(0, len(lines) - 1))
                repeat = draw.draw(st.booleans())
                lines[i : i + 1] = [lines[i]] * (2 if repeat else 0)
                data = b"".join(lines)
    return data


@pytest.mark.parametrize("adapter", ADAPTERS, ids=_id)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_damaged_samples_are_read_or_refused_never_crash(adapter, data, tmp_path):
    sample = data.draw(st.sampled_from(SAMPLES_OF[adapter]))
    path = tmp_path / sample.name
    path.write_bytes(_mutate(GOLDEN_BYTES[str(sample)], data))
    try:
        items = parse(adapter, path)
    except AdapterError:
        return
    check_items(adapter, items)
