"""The review gate: staged imports change nothing until published."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from schemas.tables import IMPORT_BATCHES
from sync.config import SourceSettings
from sync.engine.pipeline import publish_staged
from sync.engine.review import discard
from sync.errors import UsageError
from tests.helpers import (
    SAMPLE_LEDGER,
    count,
    dump_business_tables,
    header_without_lines,
    invoice_row,
    run_import,
    write_csv,
)


@pytest.fixture
def reviewed(settings):
    return replace(
        settings,
        sources=(SourceSettings(name="books", path="x", review=True, mode="snapshot"),),
    )


def batch(store, batch_id):
    with store.read() as conn:
        return conn.execute(
            select(IMPORT_BATCHES).where(IMPORT_BATCHES.c.id == batch_id)
        ).first()


def test_a_staged_import_writes_nothing_and_shows_its_diff(store, reviewed, tmp_path):
    before = dump_business_tables(store)
    result = run_import(store, reviewed, SAMPLE_LEDGER, source="books")
    assert result.status == "staged" and result.created == 25
    assert dump_business_tables(store) == before
    diff = json.loads(batch(store, result.batch_id).diff)
    assert diff["counts"]["new"] == 25
    assert "Maple Street Dental" in diff["new_customers"]
    assert {
        "kind": "invoice",
        "number": "1001",
        "account": "Maple Street Dental",
        "total": "2060.40",
        "balance": "0.00",
        "currency": "USD",
    } in diff["new"]
    again = run_import(store, reviewed, SAMPLE_LEDGER, source="books")
    assert again.status == "duplicate"


def test_publish_applies_the_original_and_closes_the_staged_batch(store, reviewed):
    staged = run_import(store, reviewed, SAMPLE_LEDGER, source="books")
    result = publish_staged(store, reviewed, staged.batch_id, "admin:a@example.com")
    assert result.status == "applied" and result.created == 25
    row = batch(store, staged.batch_id)
    assert (row.status, row.published_batch_id) == ("published", result.batch_id)
    assert count(store, "invoice") == 14
    with pytest.raises(UsageError):
        publish_staged(store, reviewed, staged.batch_id, "admin:a@example.com")


def test_discard_leaves_the_store_untouched(store, reviewed):
    before = dump_business_tables(store)
    staged = run_import(store, reviewed, SAMPLE_LEDGER, source="books")
    with store.write(ledger=False) as conn:
        discard(conn, staged.batch_id, "admin:a@example.com")
    assert batch(store, staged.batch_id).status == "discarded"
    assert dump_business_tables(store) == before


def test_diff_names_changed_amounts_voids_and_disappeared_records(
    store, reviewed, settings, tmp_path
):
    header = header_without_lines()
    first = write_csv(
        tmp_path / "a.csv",
        header,
        [
            invoice_row("R1", "Rev Co", "100.00"),
            invoice_row("R2", "Rev Co", "50.00"),
            invoice_row("R3", "Rev Co", "10.00"),
        ],
    )
    run_import(store, settings, first, source="books")  # applied without review
    second = write_csv(
        tmp_path / "b.csv",
        header,
        [
            invoice_row("R1", "Rev Co", "120.00"),
            invoice_row("R2", "Rev Co", "50.00", status="void", balance_due="0.00"),
            invoice_row("R4", "New Customer", "5.00"),
        ],
    )
    staged = run_import(store, reviewed, second, source="books")
    diff = json.loads(batch(store, staged.batch_id).diff)
    assert [
        (c["number"], c["before"]["total"], c["total"]) for c in diff["changed"]
    ] == [("R1", "100.00", "120.00")]
    assert [v["number"] for v in diff["voided"]] == ["R2"]
    assert [d["number"] for d in diff["disappeared"]] == ["R3"]
    assert diff["new_customers"] == ["New Customer"]
    assert count(store, "invoice", "total_minor = 12000") == 0
