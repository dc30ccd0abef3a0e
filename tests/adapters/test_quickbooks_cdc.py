"""QuickBooks Online change data capture answers: creates, updates, deletes, unknowns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from adapters.base import ExportFile, Head, ParseOptions
from adapters.quickbooks_api import QuickBooksApi
from adapters.registry import detect_adapter
from adapters.toolkit.text import decode_head, sniff_bytes
from schemas.records import Deletion, DocumentRecord, Note, Rejection
from tests.conftest import SAMPLES
from tests.helpers import balances_by_account, run_import

SAMPLE_DIR = SAMPLES / "quickbooks_api"
LEDGER = SAMPLE_DIR / "harbor_ledger_batch.json"
CHANGES = SAMPLE_DIR / "harbor_changes_cdc.json"


def changes() -> dict[str, Any]:
    return json.loads(CHANGES.read_text(encoding="utf-8"))


def write(tmp_path: Path, name: str, obj: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def parse(path: Path) -> list:
    data = path.read_bytes()
    export = ExportFile(path, path.name, sniff_bytes(data), len(data))
    return list(QuickBooksApi().parse(export, ParseOptions()))


def cdc(*groups: dict[str, Any], time: str = "2025-07-08T09:15:04-07:00") -> dict:
    return {"CDCResponse": [{"QueryResponse": list(groups)}], "time": time}


def stub(ident: str, when: str = "2025-07-05T08:30:02-07:00") -> dict[str, Any]:
    return {
        "domain": "QBO",
        "status": "Deleted",
        "Id": ident,
        "MetaData": {"LastUpdatedTime": when},
    }


def lifecycles(store, table: str) -> dict[str, str]:
    with store.read() as conn:
        return dict(
            conn.execute(text(f"SELECT external_id, lifecycle FROM {table}")).all()
        )


def figures(store) -> dict[str, tuple]:
    found = balances_by_account(store)
    return {
        key.split("|")[0]: (
            b["total_billed"],
            b["balance_due"],
            b["remaining_credit"],
            b["invoice_count"],
        )
        for key, b in found.items()
    }


def test_a_cdc_answer_is_claimed_by_the_quickbooks_api_adapter():
    data = CHANGES.read_bytes()[: 64 * 1024]
    head = Head(CHANGES.name, data, decode_head(data, sniff_bytes(data)))
    assert detect_adapter(head) is QuickBooksApi


def test_cdc_creates_updates_and_deletes_land_in_the_store(store, settings):
    run_import(store, settings, LEDGER)
    result = run_import(store, settings, CHANGES)
    assert (result.status, result.created, result.updated) == ("applied", 2, 5)
    assert result.rejected == []
    invoices = lifecycles(store, "invoice")
    assert invoices["213"] == "deleted" and invoices["215"] == "issued"
    assert lifecycles(store, "credit_note")["303"] == "deleted"
    assert lifecycles(store, "payment")["407"] == "deleted"
    assert figures(store) == {
        "Bayview Café": ("1108.20", "428.20", "0.00", 2),  # 1012 paid by payment 410
        "Jenna Alvarez": ("730.52", "524.90", "0.00", 2),
        "Lighthouse Laundromat": ("1159.34", "1107.64", "0.00", 1),
        "Maple Street Dental": ("2510.40", "450.00", "0.00", 2),  # payment 407 gone
        "Oakridge Property Management": ("1906.15", "281.15", "0.00", 3),
        "Pinecrest HOA": ("650.00", "0.00", "0.00", 1),  # credit memo 303 deleted
        "Seaside Yoga Studio": ("140.00", "140.00", "0.00", 1),  # a new customer
        "Thomas & Rita Okafor": ("338.81", "0.00", "0.00", 1),  # 1013 deleted
    }


def test_a_deleted_payment_stops_settling_its_invoice(store, settings, tmp_path):
    run_import(store, settings, LEDGER)
    run_import(
        store, settings, write(tmp_path, "cdc.json", cdc({"Payment": [stub("407")]}))
    )
    with store.read() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM allocation a JOIN payment p ON p.id = a.owner_id "
                 "WHERE a.owner_kind = 'payment' AND p.external_id = '407'")
        ).scalar_one()  # fmt: skip
    assert left == 0
    # The invoice's own Balance (250.00) still says what QuickBooks last told.
    assert figures(store)["Maple Street Dental"][1] == "250.00"


def test_the_same_deletions_again_change_nothing(store, settings, tmp_path):
    run_import(store, settings, LEDGER)
    run_import(store, settings, CHANGES)
    again = changes()
    again["time"] = "2025-07-09T09:00:00-07:00"  # other bytes, same changes
    result = run_import(store, settings, write(tmp_path, "again.json", again))
    assert (result.status, result.created, result.updated) == ("applied", 0, 0)
    assert result.unchanged == 7


def test_a_deletion_older_than_the_stored_record_changes_nothing(
    store, settings, tmp_path
):
    run_import(store, settings, LEDGER)
    old = cdc({"Invoice": [stub("214", "2025-06-01T00:00:00-07:00")]})
    result = run_import(store, settings, write(tmp_path, "old.json", old))
    assert result.updated == 0
    assert lifecycles(store, "invoice")["214"] == "issued"


def test_deleting_what_was_never_imported_is_a_warning_not_a_crash(
    store, settings, tmp_path
):
    answer = cdc({"Invoice": [stub("999")]}, {"SalesReceipt": [{"status": "Deleted"}]})
    result = run_import(store, settings, write(tmp_path, "cdc.json", answer))
    assert result.status == "applied"
    assert result.rejected == []
    assert any(
        "never imported (e.g. invoice with Id 999)" in w for w in result.warnings
    )
    assert any("without an Id skipped" in w for w in result.warnings)


def test_a_deleted_sales_receipt_deletes_its_invoice_and_its_payment(tmp_path):
    items = parse(write(tmp_path, "cdc.json", cdc({"SalesReceipt": [stub("11")]})))
    deletions = [i for i in items if isinstance(i, Deletion)]
    assert [(d.kind, d.external_id) for d in deletions] == [
        ("invoice", "SalesReceipt 11"),
        ("payment", "SalesReceipt 11"),
    ]


def test_an_unknown_entity_in_the_answer_is_reported_not_read(tmp_path):
    answer = cdc(
        {"Invoice": [stub("5")], "startPosition": 1, "maxResults": 1},
        {"WidgetOrder": [{"Id": "1", "TotalAmt": "oops"}], "totalCount": 1},
    )
    items = parse(write(tmp_path, "cdc.json", answer))
    assert not [i for i in items if isinstance(i, Rejection)]
    notes = [i.message for i in items if isinstance(i, Note)]
    assert any("'WidgetOrder'" in n and "skipped" in n for n in notes)
    assert [i.external_id for i in items if isinstance(i, Deletion)] == ["5"]


def test_an_unknown_entity_is_a_warning_of_the_import(store, settings, tmp_path):
    answer = cdc({"TimeActivity": [{"Id": "3"}]}, {"Widget": [{"Id": "1"}]})
    result = run_import(store, settings, write(tmp_path, "cdc.json", answer))
    assert result.status == "applied"
    assert any("'Widget'" in w for w in result.warnings)
    assert any("skipped 1 TimeActivity" in w for w in result.warnings)


def test_created_entities_read_as_in_any_query(tmp_path):
    items = parse(CHANGES)
    numbers = [i.number for i in items if isinstance(i, DocumentRecord)]
    assert numbers == ["1015", "1009", "1012"]
