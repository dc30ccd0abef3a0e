"""Every sample export imports to exactly its golden result, on SQLite and PostgreSQL.

Regenerate after an intended change with ``pytest tests/test_golden_samples.py
--update-golden`` and review the diff like code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.helpers import golden_view

SAMPLE_FILES = sorted(
    p
    for p in SAMPLES.glob("*/*")
    if p.is_file() and not p.name.endswith((".expected.json", ".md"))
)


def golden_path(sample: Path) -> Path:
    return sample.with_name(sample.name + ".expected.json")


@pytest.mark.parametrize(
    "sample", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_sample_imports_to_its_golden_result(sample, store, settings, update_golden):
    actual = golden_view(store, settings, sample)
    path = golden_path(sample)
    if update_golden:
        path.write_text(
            json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected


def test_every_sample_has_a_golden_file():
    missing = [p.name for p in SAMPLE_FILES if not golden_path(p).exists()]
    assert missing == []
