"""Pulling from a fake Xero over HTTP gives the store an export of the same ledger gives."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import text

from sync import faults
from sync.config import SourceSettings
from sync.engine.pipeline import import_file
from sync.ledger.balances import balances
from sync.store.metrics import StoreCollector
from sync.workers.api import pull_source
from sync.workers.status import source_status
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


def test_a_pull_continues_the_file_source_it_takes_over(
    store, xero_settings, fake_xero
):
    settings = replace(
        xero_settings,
        sources=(
            SourceSettings(name="xero-exports", path="inbox"),
            xero_source(fake_xero, takes_over="xero-exports"),
        ),
    )
    exported = import_file(store, settings, XERO_SAMPLE, source="xero-exports")
    assert exported.status == "applied"
    accounts, invoices = count(store, "account"), count(store, "invoice")

    outcome = pull_source(settings, store, "xero")

    assert outcome.status == "done", outcome.error
    assert (count(store, "account"), count(store, "invoice")) == (accounts, invoices)
    assert count(store, "payment") == 9
    with store.read() as conn:
        assert balances(conn) == _golden_balances()


def test_the_next_pull_asks_only_for_changes(store, xero_settings, fake_xero):
    assert pull_source(xero_settings, store, "xero").status == "done"
    first = len(fake_xero.data_requests())
    invoice = fake_xero.collections["Invoices"][3]  # AUTHORISED, 300.00 paid of 808.20
    invoice["Status"] = "VOIDED"
    invoice["UpdatedDateUTC"] = "/Date(1760000000000+0000)/"

    outcome = pull_source(xero_settings, store, "xero")

    assert outcome.status == "done" and outcome.pages == 1
    again = fake_xero.data_requests()[first:]
    invoices = [s for s in again if s.path.endswith("/Invoices")]
    assert invoices[0].headers["if-modified-since"] == "2025-06-25T21:04:17"
    assert [s.query["page"] for s in invoices] == ["1"]
    with store.read() as conn:
        voided = conn.execute(
            text("SELECT lifecycle FROM invoice WHERE external_id = :id"),
            {"id": invoice["InvoiceID"]},
        ).scalar_one()
    assert voided == "void"


def test_a_pull_stopped_after_page_two_resumes_at_page_three(
    store, xero_settings, fake_xero, monkeypatch
):
    monkeypatch.setenv("BILLFOLD_FAULT", "pulled_page@2:raise")
    monkeypatch.setattr(faults, "_hits", {})
    with pytest.raises(faults.InjectedFault):
        pull_source(xero_settings, store, "xero")
    assert count(store, "import_batch", "source = 'xero'") == 2
    monkeypatch.delenv("BILLFOLD_FAULT")
    before = len(fake_xero.data_requests())

    outcome = pull_source(xero_settings, store, "xero")

    assert outcome.status == "done", outcome.error
    resumed = fake_xero.data_requests()[before]
    assert (resumed.path.rsplit("/", 1)[1], resumed.query["page"]) == ("Invoices", "3")
    assert count(store, "import_batch", "source = 'xero'") == 6
    assert count(store, "invoice") == 14
    with store.read() as conn:
        assert balances(conn) == _golden_balances()


@pytest.mark.alone  # measures a wait
def test_429_is_honoured_with_its_retry_after(store, xero_settings, fake_xero):
    fake_xero.fail_next(429, retry_after="1")
    fake_xero.fail_next(503)

    outcome = pull_source(xero_settings, store, "xero")

    assert outcome.status == "done", outcome.error
    data = fake_xero.data_requests()
    assert data[1].at - data[0].at >= 1.0  # waited what Retry-After asked
    with store.read() as conn:
        assert balances(conn) == _golden_balances()


def test_billfold_sends_nothing_but_reads(store, xero_settings, fake_xero):
    fake_xero.tokens.access_seconds = 2  # within a minute of expiry: renewed each call
    assert pull_source(xero_settings, store, "xero").status == "done"
    fake_xero.tokens.access_seconds = 1800
    assert pull_source(xero_settings, store, "xero").status == "done"

    methods = {(s.method, s.path == fake_xero.token_path) for s in fake_xero.seen}
    assert methods == {("GET", False), ("POST", True)}
    assert all(s.body == "" for s in fake_xero.data_requests())
    assert fake_xero.tokens.grants.count("client_credentials") >= 2
    token_posts = [s for s in fake_xero.seen if s.method == "POST"]
    assert all(
        "scope=accounting.transactions.read+accounting.contacts.read" in s.body
        for s in token_posts
    )


def test_a_revoked_connection_stops_pulling_and_shows(store, xero_settings, fake_xero):
    fake_xero.tokens.revoked = True

    outcome = pull_source(xero_settings, store, "xero")
    assert outcome.status == "revoked"
    seen = len(fake_xero.seen)
    assert pull_source(xero_settings, store, "xero").status == "revoked"
    assert len(fake_xero.seen) == seen  # not retried until reconnected

    with store.read() as conn:
        (row,) = source_status(conn, xero_settings)
    assert row["connection"]["state"] == "revoked"
    assert "invalid_grant" in row["connection"]["error"]
    assert "reconnect" in row["last_error"]
    (up,) = [
        m
        for m in StoreCollector(store).collect()
        if m.name == "billfold_api_connection_up"
    ]
    assert [(s.labels, s.value) for s in up.samples] == [({"source": "xero"}, 0)]
