"""Pulling from a fake QuickBooks Online over HTTP: first read, then change data capture."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from schemas.tables import utcnow
from sync import faults
from sync.ledger.balances import balances
from sync.pulls import quickbooks
from sync.pulls.client import ApiClient, RateLimiter
from sync.pulls.connections import ensure_row, read_row, save_cursor, set_values
from sync.pulls.tokens import TokenKeeper
from sync.workers.api import pull_source
from sync.workers.status import source_status
from tests.helpers import count
from tests.sync.pulls.conftest import QBO_SAMPLE


def _golden_balances() -> list[dict]:
    golden = QBO_SAMPLE.with_name(QBO_SAMPLE.name + ".expected.json")
    return json.loads(golden.read_text(encoding="utf-8"))["balances"]


def connect(store, settings, fake) -> None:
    """What "Connect QuickBooks" does on its callback: store realm id and tokens."""
    fake.tokens.codes.add("the-code")
    source = settings.sources[0]
    ensure_row(store, source.name, source.kind, None)
    set_values(store, source.name, tenant=fake.realm)
    keeper = TokenKeeper(
        settings, store, source, ApiClient(source.name, RateLimiter(500))
    )
    keeper.exchange_code("the-code", "http://127.0.0.1:8000/admin/connections/callback")


def _lifecycle(store, external_id: str) -> tuple[str, int]:
    with store.read() as conn:
        row = conn.execute(
            text("SELECT lifecycle, total_minor FROM invoice WHERE external_id = :id"),
            {"id": external_id},
        ).one()
    return row.lifecycle, row.total_minor


def test_a_first_pull_gives_the_store_the_export_gives(store, qbo_settings, fake_qbo):
    connect(store, qbo_settings, fake_qbo)

    outcome = pull_source(qbo_settings, store, "qbo")

    assert outcome.status == "done", outcome.error
    assert (
        outcome.pages == 8
    )  # customers 5+2, invoices 5+5+4, credit memos 3, payments 5+4
    with store.read() as conn:
        assert balances(conn) == _golden_balances()
    queries = [s.query for s in fake_qbo.data_requests()]
    assert all(q["minorversion"] == "75" for q in queries)
    pages = [q["query"] for q in queries if q["query"].startswith("SELECT * ")]
    assert "STARTPOSITION 6 MAXRESULTS 5" in pages[1]
    counted = [q["query"] for q in queries if q["query"].startswith("SELECT COUNT(*) ")]
    assert len(counted) == 8  # each entity's window before and after its read


def test_later_pulls_ask_for_the_changes_only(store, qbo_settings, fake_qbo):
    connect(store, qbo_settings, fake_qbo)
    assert pull_source(qbo_settings, store, "qbo").status == "done"
    invoice = fake_qbo.entities["Invoice"][0]
    invoice["TotalAmt"] = invoice["TotalAmt"] + 10
    invoice["Balance"] = invoice["Balance"] + 10
    invoice["SyncToken"] = str(int(invoice["SyncToken"]) + 1)
    stamp = utcnow().replace(microsecond=0) + timedelta(seconds=5)
    invoice["MetaData"]["LastUpdatedTime"] = stamp.isoformat() + "+00:00"
    before = len(fake_qbo.data_requests())
    old_total = _lifecycle(store, invoice["Id"])[1]

    outcome = pull_source(qbo_settings, store, "qbo")

    assert outcome.status == "done", outcome.error
    (cdc,) = fake_qbo.data_requests()[before:]
    assert cdc.path.endswith("/cdc")
    assert cdc.query["entities"] == "Customer,Invoice,CreditMemo,Payment"
    assert cdc.query["changedSince"] and cdc.query["minorversion"] == "75"
    assert _lifecycle(store, invoice["Id"])[1] == old_total + 1000


def test_a_full_change_answer_is_completed_by_a_narrower_query(
    store, qbo_settings, fake_qbo, monkeypatch
):
    connect(store, qbo_settings, fake_qbo)
    assert pull_source(qbo_settings, store, "qbo").status == "done"
    fake_qbo.cdc_max = 2  # the service's most per answer, made small
    monkeypatch.setattr(quickbooks, "CDC_MAX", 2)
    an_hour_ago = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    save_cursor(store, "qbo", {"cdc_since": an_hour_ago.isoformat() + "+00:00"})
    changed = fake_qbo.entities["Invoice"][:3]
    base = utcnow().replace(microsecond=0)
    for n, invoice in enumerate(changed):
        invoice["PrivateNote"] = f"changed {n}"
        invoice["TotalAmt"] = invoice["TotalAmt"] + 1
        invoice["Balance"] = invoice["Balance"] + 1
        stamp = base + timedelta(seconds=n - 3)
        invoice["MetaData"]["LastUpdatedTime"] = stamp.isoformat() + "+00:00"
    totals = {i["Id"]: _lifecycle(store, i["Id"])[1] for i in changed}
    before = len(fake_qbo.data_requests())

    assert pull_source(qbo_settings, store, "qbo").status == "done"

    asked = fake_qbo.data_requests()[before:]
    assert asked[0].path.endswith("/cdc")
    assert "MetaData.LastUpdatedTime > '" in asked[1].query["query"]
    assert {i["Id"]: _lifecycle(store, i["Id"])[1] for i in changed} == {
        k: v + 100 for k, v in totals.items()
    }


def test_refresh_tokens_rotate_and_the_new_one_is_kept(store, qbo_settings, fake_qbo):
    connect(store, qbo_settings, fake_qbo)
    with store.read() as conn:
        first = read_row(conn, "qbo").tokens(qbo_settings).refresh
    set_values(store, "qbo", access_expires_at=utcnow())

    assert pull_source(qbo_settings, store, "qbo").status == "done"

    with store.read() as conn:
        now = read_row(conn, "qbo").tokens(qbo_settings).refresh
    assert fake_qbo.tokens.grants == ["authorization_code", "refresh_token"]
    assert now != first and now in fake_qbo.tokens.refresh
    assert first not in fake_qbo.tokens.refresh


def test_an_unconnected_source_says_so_and_asks_nothing(store, qbo_settings, fake_qbo):
    outcome = pull_source(qbo_settings, store, "qbo")

    assert outcome.status == "not connected"
    assert fake_qbo.seen == []
    with store.read() as conn:
        (row,) = source_status(conn, qbo_settings)
    assert row["connection"]["state"] == "not connected"
    assert "Connect QuickBooks" in row["last_error"]
    assert count(store, "import_batch") == 0


def test_a_source_not_pulled_for_30_days_reads_everything_again(
    store, qbo_settings, fake_qbo
):
    connect(store, qbo_settings, fake_qbo)
    assert pull_source(qbo_settings, store, "qbo").status == "done"
    long_ago = (utcnow() - timedelta(days=31)).replace(microsecond=0)
    save_cursor(store, "qbo", {"cdc_since": long_ago.isoformat() + "+00:00"})
    before = len(fake_qbo.data_requests())

    assert pull_source(qbo_settings, store, "qbo").status == "done"

    asked = fake_qbo.data_requests()[before:]
    assert not any(s.path.endswith("/cdc") for s in asked)
    assert asked[0].query["query"].startswith("SELECT COUNT(*) FROM Customer WHERE")
    assert asked[1].query["query"].startswith("SELECT * FROM Customer WHERE")
    assert count(store, "invoice") == 14


def test_a_first_pull_cut_off_resumes_at_its_page(
    store, qbo_settings, fake_qbo, monkeypatch
):
    connect(store, qbo_settings, fake_qbo)
    monkeypatch.setenv("BILLFOLD_FAULT", "pulled_page@3:raise")
    monkeypatch.setattr(faults, "_hits", {})
    with pytest.raises(faults.InjectedFault):
        pull_source(qbo_settings, store, "qbo")
    monkeypatch.delenv("BILLFOLD_FAULT")
    before = len(fake_qbo.data_requests())

    assert pull_source(qbo_settings, store, "qbo").status == "done"

    resumed = fake_qbo.data_requests()[before].query["query"]
    assert resumed.startswith("SELECT * FROM Invoice WHERE")
    assert resumed.endswith("STARTPOSITION 6 MAXRESULTS 5")
    assert count(store, "import_batch", "source = 'qbo'") == 8
    with store.read() as conn:
        assert balances(conn) == _golden_balances()


def test_a_record_edited_during_the_first_read_skips_none_after_it(
    store, qbo_settings, fake_qbo
):
    """An invoice edited while page one is read leaves the window, and the invoices
    after it move up a position: the one that moved onto page one would be missed."""
    connect(store, qbo_settings, fake_qbo)
    invoices = sorted(fake_qbo.entities["Invoice"], key=lambda i: int(i["Id"]))
    edited, moved = invoices[1], invoices[5]  # on page one; first on page two

    def edit(entity: str, start: int) -> None:
        if entity == "Invoice" and start == 1:
            edited["MetaData"]["LastUpdatedTime"] = utcnow().isoformat() + "+00:00"

    fake_qbo.after_page = edit
    assert pull_source(qbo_settings, store, "qbo").status == "done"
    with store.read() as conn:
        stored = set(conn.execute(text("SELECT external_id FROM invoice")).scalars())
    assert moved["Id"] in stored
    assert stored == {i["Id"] for i in invoices}
    fake_qbo.after_page = lambda entity, start: None
    assert pull_source(qbo_settings, store, "qbo").status == "done"  # the changes
    assert count(store, "invoice") == 14
    with store.read() as conn:
        assert balances(conn) == _golden_balances()
