"""Connecting a Xero Web app from the admin Connections page: the organisation to read
is asked of Xero's connections list once the admin has consented."""

from __future__ import annotations

import urllib.parse
from dataclasses import replace

import pytest

from portal import create_app
from sync.api_sources import XERO_AUTHORIZE_URL
from sync.pulls.connections import read_row
from sync.workers.api import pull_source
from tests.fakes.xero import TENANT, organisation
from tests.portal.test_admin import admin_sign_in, page
from tests.sync.pulls.conftest import XERO_SECRET, fake_xero, xero_source

__all__ = ["fake_xero"]  # a fixture, used by name


def _office(portal_settings, store, fake_xero, **source):  # type: ignore[no-untyped-def]
    settings = replace(portal_settings, sources=(xero_source(fake_xero, **source),))
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    client = app.test_client()
    admin_sign_in(app, client)
    return client, settings


@pytest.fixture(autouse=True)
def _secret(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XERO_CLIENT_SECRET", XERO_SECRET)


def _consent(client, fake_xero) -> str:  # type: ignore[no-untyped-def]
    """Connect, consent on Xero's page, come back; return the Connections page."""
    response = client.get("/admin/connections/xero/connect")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(XERO_AUTHORIZE_URL + "?")
    asked = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    fake_xero.tokens.codes.add("code-1")
    back = client.get(
        "/admin/connections/callback",
        query_string={"code": "code-1", "state": asked["state"]},
    )
    assert back.status_code == 302
    return page(client, "/admin/connections")


def _reads(fake_xero) -> list:  # type: ignore[no-untyped-def]
    """The requests for accounting data (not the list of organisations)."""
    return [s for s in fake_xero.data_requests() if s.path != "/connections"]


def _tenant(store) -> str | None:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return read_row(conn, "xero").tenant


def test_the_one_organisation_a_login_connected_is_the_one_pulled(
    portal_settings, store, fake_xero
):
    client, settings = _office(portal_settings, store, fake_xero, tenant_id="")
    assert "xero is connected" in _consent(client, fake_xero)
    assert _tenant(store) == TENANT
    assert pull_source(settings, store, "xero").status == "done"
    asked = _reads(fake_xero)
    assert asked and all(s.headers["xero-tenant-id"] == TENANT for s in asked)


def test_several_organisations_name_each_and_the_config_then_chooses(
    portal_settings, store, fake_xero
):
    fake_xero.organisations = [
        organisation("tenant-0009", "Bayview <Holdings>"),
        organisation(TENANT, "Harbor Plumbing"),
        organisation("practice-1", "Our Accountants", kind="PRACTICE"),
    ]
    client, settings = _office(portal_settings, store, fake_xero, tenant_id="")
    listing = _consent(client, fake_xero)
    assert "connected 2 organisations" in listing
    assert "Bayview &lt;Holdings&gt; (tenant_id tenant-0009)" in listing
    assert f"Harbor Plumbing (tenant_id {TENANT})" in listing
    assert "Our Accountants" not in listing
    assert _tenant(store) is None
    # The page keeps saying so after the message has gone, and no pull asks Xero for
    # data without an organisation.
    later = page(client, "/admin/connections")
    assert "connected 2 organisations" not in later.split("Error", 1)[0]
    assert "connected 2 organisations" in later
    asked = len(_reads(fake_xero))
    outcome = pull_source(settings, store, "xero")
    assert outcome.status == "not connected"
    assert "connected 2 organisations" in (outcome.error or "")
    assert "connected 2 organisations" in page(client, "/admin/connections")
    assert len(_reads(fake_xero)) == asked
    # The office sets tenant_id and restarts: the tokens kept, no second consent.
    chosen = replace(settings, sources=(xero_source(fake_xero),))
    assert pull_source(chosen, store, "xero").status == "done"
    assert _tenant(store) == TENANT
    assert fake_xero.tokens.grants == ["authorization_code"]
    assert "organisations" not in page(client, "/admin/connections")


def test_a_configured_organisation_the_login_did_not_connect_is_refused(
    portal_settings, store, fake_xero
):
    client, _ = _office(portal_settings, store, fake_xero, tenant_id="tenant-0404")
    listing = _consent(client, fake_xero)
    assert "did not connect the organisation tenant_id tenant-0404" in listing
    assert f"Harbor Plumbing (tenant_id {TENANT})" in listing
    assert "xero is connected" not in listing


def test_a_login_that_now_reaches_one_organisation_is_pulled_from_it(
    portal_settings, store, fake_xero
):
    fake_xero.organisations = [
        organisation("tenant-0009", "Bayview Holdings"),
        organisation(TENANT, "Harbor Plumbing"),
    ]
    client, settings = _office(portal_settings, store, fake_xero, tenant_id="")
    assert "connected 2 organisations" in _consent(client, fake_xero)
    # Bayview's owner disconnects billfold in Xero: one organisation is left.
    fake_xero.organisations = [organisation(TENANT, "Harbor Plumbing")]
    assert pull_source(settings, store, "xero").status == "done"
    assert _tenant(store) == TENANT
