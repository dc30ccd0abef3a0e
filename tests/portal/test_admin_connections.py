"""The admin Connections page: Connect QuickBooks (state checked, realm kept), disconnect."""

from __future__ import annotations

import urllib.parse
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from portal import create_app
from schemas.tables import AUDIT_EVENTS, PULL_REQUESTS
from sync.api_sources import QUICKBOOKS_AUTHORIZE_URL
from sync.pulls.connections import read_row
from sync.workers.api import pull_source
from tests.portal.test_admin import admin_sign_in, page, post
from tests.sync.pulls.conftest import QBO_SECRET, fake_qbo, qbo_source

__all__ = ["fake_qbo"]  # a fixture, used by name


@pytest.fixture
def office(portal_settings, store, fake_qbo, monkeypatch):
    monkeypatch.setenv("QBO_CLIENT_SECRET", QBO_SECRET)
    settings = replace(portal_settings, sources=(qbo_source(fake_qbo),))
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    client = app.test_client()
    admin_sign_in(app, client)
    return client, settings


def _connect(client) -> dict[str, str]:
    response = client.get("/admin/connections/qbo/connect")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(QUICKBOOKS_AUTHORIZE_URL + "?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def _connected(client, fake_qbo) -> None:
    """Connect QuickBooks through the consent page and back, as an admin does."""
    asked = _connect(client)
    fake_qbo.tokens.codes.add("code-1")
    client.get(
        "/admin/connections/callback",
        query_string={
            "code": "code-1",
            "state": asked["state"],
            "realmId": fake_qbo.realm,
        },
    )


def _events(store, action: str) -> int:
    with store.read() as conn:
        return conn.execute(
            select(func.count()).where(AUDIT_EVENTS.c.action == action)
        ).scalar_one()


def test_connect_quickbooks_keeps_the_realm_and_tokens(office, store, fake_qbo):
    client, settings = office
    asked = _connect(client)
    assert asked["redirect_uri"] == "https://portal.example/admin/connections/callback"
    assert asked["scope"] == "com.intuit.quickbooks.accounting"
    assert asked["client_id"] == "qbo-client" and len(asked["state"]) >= 40
    fake_qbo.tokens.codes.add("code-1")

    back = client.get(
        "/admin/connections/callback",
        query_string={
            "code": "code-1",
            "state": asked["state"],
            "realmId": fake_qbo.realm,
        },
    )

    assert back.status_code == 302
    assert "qbo is connected" in page(client, "/admin/connections")
    with store.read() as conn:
        row = read_row(conn, "qbo")
    assert row.tenant == fake_qbo.realm and row.refresh_token is not None
    assert _events(store, "connection_connected") == 1
    assert pull_source(settings, store, "qbo").status == "done"


def test_a_callback_with_a_wrong_or_used_state_is_refused(office, store, fake_qbo):
    client, _ = office
    asked = _connect(client)
    fake_qbo.tokens.codes.update({"code-1", "code-2"})
    wrong = client.get(
        "/admin/connections/callback",
        query_string={"code": "code-1", "state": "forged", "realmId": "666"},
    )
    assert wrong.status_code == 302
    assert "unknown or was used" in page(client, "/admin/connections")
    assert fake_qbo.tokens.grants == []
    ok = {"code": "code-1", "state": asked["state"], "realmId": fake_qbo.realm}
    client.get("/admin/connections/callback", query_string=ok)
    again = {**ok, "code": "code-2"}
    client.get("/admin/connections/callback", query_string=again)
    assert fake_qbo.tokens.grants == ["authorization_code"]


def test_disconnect_stops_the_pulls_until_reconnected(office, store, fake_qbo):
    client, settings = office
    _connected(client, fake_qbo)

    assert post(client, "/admin/connections/qbo/disconnect").status_code == 302

    seen = len(fake_qbo.seen)
    assert pull_source(settings, store, "qbo").status == "disconnected"
    assert len(fake_qbo.seen) == seen
    listing = page(client, "/admin/connections")
    assert "disconnected" in listing and "Reconnect" in listing
    assert "disconnected" in page(client, "/admin/imports")
    assert _events(store, "connection_disconnected") == 1


def test_pull_now_asks_the_workers_for_a_pull_of_a_known_source(
    office, store, fake_qbo
):
    client, _ = office
    assert "Pull now" not in page(client, "/admin/connections")  # not connected yet
    _connected(client, fake_qbo)
    assert "Pull now" in page(client, "/admin/connections")
    response = post(client, "/admin/connections/qbo/pull")
    assert response.status_code == 302
    assert "was asked for" in page(client, "/admin/connections")
    assert post(client, "/admin/connections/qbo/pull").status_code == 302
    with store.read() as conn:
        waiting = conn.execute(
            select(PULL_REQUESTS.c.source).where(PULL_REQUESTS.c.taken_at.is_(None))
        ).scalars()
        assert list(waiting) == ["qbo"]  # asked twice, one request waits
    assert _events(store, "pull_asked") == 2
    assert "Asked for the source qbo to be read now." in page(client, "/admin/audit")
    assert post(client, "/admin/connections/nowhere/pull").status_code == 404
