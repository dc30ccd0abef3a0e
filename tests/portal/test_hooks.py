"""Webhooks: /hooks/xero and /hooks/quickbooks verify, record, coalesce, refuse, count."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from portal import create_app
from schemas.tables import PULL_REQUESTS, WEBHOOK_EVENTS, WEBHOOK_REFUSALS
from sync.config import SourceSettings
from sync.pulls.requests import take_requested

XERO_KEY = "xero-webhook-key-3Vb9"
QBO_TOKEN = "qbo-verifier-token-77c1"
TENANT = "a3f1c9e2-5b4d-4e8a-9c1f-2d3e4f5a6b7c"
OTHER_TENANT = "0b1c2d3e-0000-4e8a-9c1f-000000000000"
REALM = "9130357992221046"


@pytest.fixture
def hook_settings(settings, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BILLFOLD_TEST_XERO_HOOK_KEY", XERO_KEY)
    monkeypatch.setenv("BILLFOLD_TEST_QBO_VERIFIER", QBO_TOKEN)
    sources = (
        SourceSettings(
            name="xero-books", kind="xero", tenant_id=TENANT,
            webhook_key_env="BILLFOLD_TEST_XERO_HOOK_KEY",
        ),
        SourceSettings(
            name="qbo-books", kind="quickbooks", realm_id=REALM,
            webhook_key_env="BILLFOLD_TEST_QBO_VERIFIER",
        ),
    )  # fmt: skip
    return replace(settings, sources=sources)


@pytest.fixture
def client(hook_settings, store):  # type: ignore[no-untyped-def]
    app = create_app(hook_settings, store=store)
    app.config["TESTING"] = True
    return app.test_client()


def sign(key: str, body: bytes) -> str:
    return base64.b64encode(
        hmac.new(key.encode(), body, hashlib.sha256).digest()
    ).decode()


def xero_body(*resource_ids: str, tenant: str = TENANT) -> bytes:
    events = [
        {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{rid}",
            "resourceId": rid,
            "eventDateUtc": "2026-12-07T02:10:53.193",
            "eventType": "UPDATE",
            "eventCategory": "INVOICE",
            "tenantId": tenant,
            "tenantType": "ORGANISATION",
        }
        for rid in resource_ids
    ]
    return json.dumps(
        {"events": events, "firstEventSequence": 1, "lastEventSequence": len(events),
         "entropy": "S0m3r4Nd0mt3xt"}
    ).encode()  # fmt: skip


def qbo_body(*ids: str, realm: str = REALM) -> bytes:
    return json.dumps(
        {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [
            {"name": "Invoice", "id": i, "operation": "Update",
             "lastUpdated": "2026-12-07T02:11:02.000Z"} for i in ids
        ]}}]}
    ).encode()  # fmt: skip


def post(client, system: str, body: bytes, signature: str | None):  # type: ignore[no-untyped-def]
    header = {"xero": "x-xero-signature", "quickbooks": "intuit-signature"}[system]
    headers = {header: signature} if signature is not None else {}
    return client.post(
        f"/hooks/{system}", data=body, headers=headers, content_type="application/json"
    )


def events(store) -> list[tuple[str, dict[str, Any]]]:
    with store.read() as conn:
        found = conn.execute(
            select(WEBHOOK_EVENTS.c.source, WEBHOOK_EVENTS.c.summary).order_by(
                WEBHOOK_EVENTS.c.id
            )
        ).all()
    return [(source, json.loads(summary)) for source, summary in found]


def waiting(store) -> list[str]:
    with store.read() as conn:
        return list(
            conn.execute(
                select(PULL_REQUESTS.c.source).where(PULL_REQUESTS.c.taken_at.is_(None))
            ).scalars()
        )


def refusals(store) -> dict[tuple[str, str], int]:
    with store.read() as conn:
        return {
            (r.system, r.reason): r.count
            for r in conn.execute(select(WEBHOOK_REFUSALS))
        }


# -- signatures ----------------------------------------------------------------------


def test_a_signed_xero_call_is_recorded_and_asks_for_a_pull(client, store):
    body = xero_body("6d0f6f3c-1111-4bde-9c7c-2b1a7e4c0001")
    answer = post(client, "xero", body, sign(XERO_KEY, body))
    assert (answer.status_code, answer.data) == (200, b"")
    assert events(store) == [
        ("xero-books", {"events": 1, "kinds": {"INVOICE UPDATE": 1},
                        "resources": ["INVOICE 6d0f6f3c-1111-4bde-9c7c-2b1a7e4c0001"]})
    ]  # fmt: skip
    assert waiting(store) == ["xero-books"]


def test_a_signed_quickbooks_call_is_recorded_and_asks_for_a_pull(client, store):
    body = qbo_body("145", "146")
    answer = post(client, "quickbooks", body, sign(QBO_TOKEN, body))
    assert (answer.status_code, answer.data) == (200, b"")
    [(source, summary)] = events(store)
    assert source == "qbo-books"
    assert summary["kinds"] == {"Invoice Update": 2}
    assert waiting(store) == ["qbo-books"]


@pytest.mark.parametrize("system", ["xero", "quickbooks"])
def test_a_wrong_or_missing_signature_is_refused_and_counted(client, store, system):
    body = xero_body("r1") if system == "xero" else qbo_body("1")
    right_key = XERO_KEY if system == "xero" else QBO_TOKEN
    wrong = post(client, system, body, sign("not-the-key", body))
    other_body = post(client, system, body + b" ", sign(right_key, body))
    missing = post(client, system, body, None)
    for answer in (wrong, other_body, missing):
        assert (answer.status_code, answer.data) == (401, b"")
    assert events(store) == [] and waiting(store) == []
    assert refusals(store) == {(system, "bad_signature"): 2, (system, "unsigned"): 1}


def test_a_key_for_one_system_does_not_sign_for_the_other(client, store):
    body = qbo_body("1")
    answer = post(client, "quickbooks", body, sign(XERO_KEY, body))
    assert answer.status_code == 401
    assert refusals(store) == {("quickbooks", "bad_signature"): 1}


def test_xero_intent_to_receive(client, store):
    """Xero's check: empty events, 200 when signed right, 401 when not, empty bodies."""
    body = json.dumps(
        {"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
         "entropy": "YSXPOHSXBLCVHRHWIMJY"}
    ).encode()  # fmt: skip
    right = post(client, "xero", body, sign(XERO_KEY, body))
    wrong = post(client, "xero", body, sign(XERO_KEY, body + b"x"))
    assert (right.status_code, right.data) == (200, b"")
    assert (wrong.status_code, wrong.data) == (401, b"")
    assert events(store) == [] and waiting(store) == []


# -- recording and coalescing -------------------------------------------------------


def test_replayed_calls_are_recorded_and_ask_for_one_pull(client, store):
    body = xero_body("inv-1", "inv-2")
    for _ in range(3):
        assert post(client, "xero", body, sign(XERO_KEY, body)).status_code == 200
    assert len(events(store)) == 3
    assert waiting(store) == ["xero-books"]
    with store.write(ledger=False) as conn:
        assert take_requested(conn) == ["xero-books"]
    assert post(client, "xero", body, sign(XERO_KEY, body)).status_code == 200
    assert waiting(store) == ["xero-books"]  # a change after the pull asks again


def test_events_for_an_unknown_organisation_are_counted_not_pulled(client, store):
    body = xero_body("inv-9", tenant=OTHER_TENANT)
    assert post(client, "xero", body, sign(XERO_KEY, body)).status_code == 200
    assert events(store) == [] and waiting(store) == []
    assert refusals(store) == {("xero", "unknown_organisation"): 1}


def test_a_summary_keeps_only_what_looks_like_ids(client, store):
    hostile = '<script>alert(1)</script>"; DROP TABLE invoice; --'
    body = xero_body(hostile, "ok-id-1")
    assert post(client, "xero", body, sign(XERO_KEY, body)).status_code == 200
    [(_, summary)] = events(store)
    assert summary["resources"] == ["INVOICE ok-id-1"]
    assert "script" not in json.dumps(summary)


# -- refused bodies --------------------------------------------------------------------


@pytest.mark.parametrize("system", ["xero", "quickbooks"])
def test_oversized_bodies_are_refused_unread(client, store, system):
    body = b'{"events": [' + b" " * (1 << 20) + b"]}"
    key = XERO_KEY if system == "xero" else QBO_TOKEN
    answer = post(client, system, body, sign(key, body))
    assert (answer.status_code, answer.data) == (413, b"")
    assert refusals(store) == {(system, "too_large"): 1}


@pytest.mark.parametrize(
    ("system", "body"),
    [
        ("xero", b"{not json"),
        ("xero", b'{"events": "all of them"}'),
        ("quickbooks", b"[1, 2]"),
        ("quickbooks", b'{"eventNotifications": [{"dataChangeEvent": 5}]}'),
    ],
)
def test_signed_malformed_bodies_are_refused_and_not_echoed(
    client, store, system, body
):
    key = XERO_KEY if system == "xero" else QBO_TOKEN
    answer = post(client, system, body, sign(key, body))
    assert (answer.status_code, answer.data) == (400, b"")
    assert refusals(store) == {(system, "malformed"): 1}


def test_refusals_never_log_the_body_or_the_signature(client, store, caplog):
    body = b'{"events": "secret-marker-4411"}'
    signature = sign(XERO_KEY, body)
    with caplog.at_level(logging.DEBUG):
        post(client, "xero", body, signature)
        post(client, "xero", b"secret-marker-4411", "sig-marker-9923")
    logged = caplog.text
    assert "secret-marker" not in logged and "sig-marker" not in logged
    assert signature not in logged


def test_no_configured_key_refuses_every_call(settings, store):
    app = create_app(settings, store=store)  # no API source has a webhook key
    body = xero_body("x")
    answer = post(app.test_client(), "xero", body, sign(XERO_KEY, body))
    assert answer.status_code == 401
    assert refusals(store) == {("xero", "no_key"): 1}


def test_hooks_need_no_session_or_csrf_token_but_only_post(client):
    body = qbo_body("1")
    assert post(client, "quickbooks", body, sign(QBO_TOKEN, body)).status_code == 200
    assert client.get("/hooks/xero").status_code == 405
    assert client.post("/hooks/sage", data=b"{}").status_code == 404


def test_metrics_count_accepted_calls_refusals_and_waiting_pulls(client, store):
    body = xero_body("inv-1")
    post(client, "xero", body, sign(XERO_KEY, body))
    post(client, "xero", body, "bad")
    post(client, "quickbooks", body, None)
    page = client.get("/metrics").get_data(as_text=True)
    assert 'billfold_webhook_events_total{source="xero-books"} 1.0' in page
    assert (
        'billfold_webhook_refusals_total{reason="bad_signature",system="xero"} 1.0'
        in page
    )
    assert (
        'billfold_webhook_refusals_total{reason="unsigned",system="quickbooks"} 1.0'
        in page
    )
    assert 'billfold_pull_requests_waiting{source="xero-books"} 1.0' in page


@pytest.mark.alone  # it measures how long an answer takes
def test_a_signed_call_is_answered_at_once(client, store):
    """The pull runs later in a worker: the call itself is a small write (< 100 ms)."""
    body = xero_body(*(f"inv-{n}" for n in range(40)))
    signature = sign(XERO_KEY, body)
    post(client, "xero", body, signature)  # the first call warms the app up
    spent = []
    for _ in range(15):
        started = time.perf_counter()
        assert post(client, "xero", body, signature).status_code == 200
        spent.append(time.perf_counter() - started)  # not money
    assert sorted(spent)[len(spent) // 2] < 0.1
