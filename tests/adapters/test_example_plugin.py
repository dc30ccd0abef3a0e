"""A third-party adapter installed through the ``billfold.adapters`` entry point.

The example (``example_plugin/tiny_billing.py``, shown in README's "Adding an
adapter") is installed as a real distribution (the ``example_plugin`` fixture: a
``*.dist-info`` directory with an ``entry_points.txt`` on ``sys.path``, as
``pip install`` would leave it). Its sample
then imports through the pipeline into a real store, to its golden result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.base import Head
from adapters.errors import FileRejected
from adapters.generic_csv import GenericCsv
from adapters.registry import all_adapters, detect_adapter, get_adapter
from adapters.toolkit.text import decode_head, sniff_bytes
from tests.adapters.example_plugin.tiny_billing import TinyBillingCsv
from tests.helpers import SAMPLE_LEDGER, golden_view

SAMPLE = Path(__file__).parent / "example_plugin" / "samples" / "tiny_billing.csv"
GOLDEN = SAMPLE.with_name(SAMPLE.name + ".expected.json")


def head_of(path: Path) -> Head:
    data = path.read_bytes()[:65536]
    return Head(path.name, data, decode_head(data, sniff_bytes(data)))


def test_without_the_plugin_its_export_is_unrecognised():
    assert TinyBillingCsv not in all_adapters()
    with pytest.raises(FileRejected, match="unrecognised file"):
        detect_adapter(head_of(SAMPLE))


def test_the_entry_point_registers_the_adapter_after_the_built_ins(example_plugin):
    adapters = all_adapters()
    assert adapters[-1] is TinyBillingCsv
    assert get_adapter("tiny_billing_csv") is TinyBillingCsv
    assert detect_adapter(head_of(SAMPLE)) is TinyBillingCsv
    # The fallback still reads billfold's own contract.
    assert detect_adapter(head_of(SAMPLE_LEDGER)) is GenericCsv


def test_its_sample_imports_to_its_golden_result(
    example_plugin, store, settings, update_golden
):
    actual = golden_view(store, settings, SAMPLE, source="tiny")
    if update_golden:
        GOLDEN.write_text(
            json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    assert actual == json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert actual["import"]["adapter"] == "tiny_billing_csv"
    # The bad amount rejects its invoice alone, named as the export names it.
    [rejected] = actual["import"]["rejected"]
    assert (rejected["line"], rejected["record"], rejected["column"]) == (
        5,
        "invoice T-104",
        "Amount",
    )
    assert rejected["value"] == "twelve"
