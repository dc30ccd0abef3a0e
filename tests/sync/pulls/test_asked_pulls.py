"""A webhook's call (or an admin's "Pull now") makes a worker pull that source."""

from __future__ import annotations

import threading
from dataclasses import replace

from portal import create_app
from schemas.tables import PULL_REQUESTS
from sync.pulls.requests import request_pull
from sync.workers.api import ApiSource, pull_asked
from sync.workers.claims import acquire_lock, release_lock
from tests.helpers import count
from tests.portal.test_hooks import post, sign, xero_body
from tests.sync.pulls.conftest import xero_source

HOOK_KEY = "xero-webhook-key-for-pulls"


def _waiting(store) -> list[str]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return [
            r.source
            for r in conn.execute(
                PULL_REQUESTS.select().where(PULL_REQUESTS.c.taken_at.is_(None))
            )
        ]


def test_a_signed_webhook_call_gets_the_source_pulled(
    store, xero_settings, fake_xero, monkeypatch
):
    monkeypatch.setenv("BILLFOLD_TEST_HOOK_KEY", HOOK_KEY)
    source = xero_source(fake_xero, webhook_key_env="BILLFOLD_TEST_HOOK_KEY")
    settings = replace(xero_settings, sources=(source,))
    client = create_app(settings, store=store).test_client()
    body = xero_body("inv-1", tenant=fake_xero.tenant)
    assert post(client, "xero", body, sign(HOOK_KEY, body)).status_code == 200
    assert _waiting(store) == ["xero"]
    assert count(store, "invoice") == 0

    worker = ApiSource(settings, store, source, stopping=threading.Event())
    assert pull_asked(store, [worker], lease_seconds=30) == ["xero"]

    assert count(store, "invoice") == 14
    assert _waiting(store) == []
    assert pull_asked(store, [worker], lease_seconds=30) == []  # taken once


def test_a_source_another_worker_is_pulling_is_asked_for_again(
    store, xero_settings, fake_xero
):
    source = xero_settings.sources[0]
    worker = ApiSource(xero_settings, store, source, stopping=threading.Event())
    with store.write(ledger=False) as conn:
        request_pull(conn, "xero", "webhook")
    holder = acquire_lock(store, worker.job, 30)  # another worker's pull under way
    assert holder is not None
    try:
        assert pull_asked(store, [worker], lease_seconds=30) == []
    finally:
        release_lock(store, worker.job, holder)
    assert _waiting(store) == ["xero"]  # the change is read by the next pull
    assert count(store, "invoice") == 0
    assert pull_asked(store, [worker], lease_seconds=30) == ["xero"]
    assert count(store, "invoice") == 14


def test_a_request_for_a_source_this_worker_lacks_is_left_for_one_that_has_it(
    store, xero_settings, fake_xero
):
    worker = ApiSource(
        xero_settings, store, xero_settings.sources[0], stopping=threading.Event()
    )
    with store.write(ledger=False) as conn:
        request_pull(conn, "elsewhere", "webhook")
    assert pull_asked(store, [worker], lease_seconds=30) == []
    assert _waiting(store) == ["elsewhere"]
