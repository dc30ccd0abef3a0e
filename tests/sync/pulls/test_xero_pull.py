"""Pulling from a fake Xero over HTTP gives the store an export of the same ledger gives."""

from __future__ import annotations

import json
from dataclasses import replace

from sync.ledger.balances import balances
from sync.pulls.pull import pull_source
from tests.helpers import count
from tests.sync.pulls.conftest import XERO_SAMPLE, xero_source


def _golden_balances() -> list[dict]:
    golden = XERO_SAMPLE.with_name(XERO_SAMPLE.name + ".expected.json")
    return json.loads(golden.read_text(encoding="utf-8"))["balances"]


def test_a_pull_gives_the_store_the_export_gives(store, xero_settings, fake_xero):
    outcome = pull_source(xero_settings, store, "xero")
    assert outcome.status == "done", outcome.error
    assert outcome.pages == 6  # invoices 5+5+4, credit notes 3, payments 5+4
    with store.read() as conn:
        assert balances(conn) == _golden_balances()
    assert count(store, "invoice") == 14
    assert count(store, "import_batch", "source = 'xero'") == 6

