"""Behind a reverse proxy (``[portal] proxy_hops``) every client keeps its own address:
rate limits count per real client, audit events record it. With no trusted proxy
(the default) X-Forwarded-For is ignored, so a client cannot pick its address.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from portal import create_app
from schemas.tables import AUDIT_EVENTS
from sync.access.contacts import find_contact
from sync.access.links import issue_link
from tests.portal.conftest import csrf_from

PROXY = "10.0.0.1"  # the address every request arrives from: the proxy's
LIMIT = 3


def _app(portal_settings, store, hops: int):  # type: ignore[no-untyped-def]
    portal = replace(
        portal_settings.portal,
        proxy_hops=hops,
        rate_limit_per_ip=LIMIT,
        rate_limit_per_email=100,
    )
    app = create_app(replace(portal_settings, portal=portal), store=store)
    app.config["TESTING"] = True
    return app


class Visitor:
    """One browser; every request reaches the portal through the proxy."""

    def __init__(self, app, forwarded_for: str) -> None:  # type: ignore[no-untyped-def]
        self.client = app.test_client()
        self.kw = {
            "environ_base": {"REMOTE_ADDR": PROXY},
            "headers": {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"},
        }

    def get(self, path: str):  # type: ignore[no-untyped-def]
        return self.client.get(path, **self.kw)

    def post(self, path: str, **data: str):  # type: ignore[no-untyped-def]
        token = csrf_from(self.get(path).get_data(as_text=True))
        return self.client.post(path, data={"csrf_token": token, **data}, **self.kw)

    def ask_for_links(self, count: int, start: int = 0) -> list[int]:
        return [
            self.post("/sign-in", email=f"someone{start + i}@example.com").status_code
            for i in range(count)
        ]


def _sign_in(app, visitor: Visitor, name: str) -> None:  # type: ignore[no-untyped-def]
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contact = find_contact(conn, f"{name}@example.com")
        token = issue_link(conn, "contact", contact["id"], contact["email"], 15)
    assert visitor.post(f"/sign-in/{token}").status_code == 302


def _sign_in_addresses(store) -> list[str | None]:  # type: ignore[no-untyped-def]
    table = AUDIT_EVENTS
    with store.read() as conn:
        return list(
            conn.execute(
                select(table.c.ip)
                .where(table.c.action == "sign_in")
                .order_by(table.c.id)
            ).scalars()
        )


def test_behind_one_proxy_each_client_is_limited_and_audited_on_its_own(
    portal_settings, store, world
):
    app = _app(portal_settings, store, hops=1)
    alice = Visitor(app, "203.0.113.5")
    bob = Visitor(app, "203.0.113.6")
    assert alice.ask_for_links(LIMIT + 1) == [200] * LIMIT + [429]
    assert bob.ask_for_links(LIMIT, start=100) == [200] * LIMIT  # not alice's count
    # A client cannot push its own address in front of the proxy's: only the last
    # (proxy_hops) entries of X-Forwarded-For are trusted.
    mallory = Visitor(app, "198.51.100.9, 203.0.113.5")
    assert mallory.ask_for_links(1, start=200) == [429]

    _sign_in(app, Visitor(app, "203.0.113.7"), "a_parent")
    assert _sign_in_addresses(store) == ["203.0.113.7"]
    app.extensions["billfold"].mailer.flush()


@pytest.mark.parametrize("forged", ["203.0.113.5", "127.0.0.1, 198.51.100.1"])
def test_with_no_trusted_proxy_a_forged_forwarded_for_changes_nothing(
    portal_settings, store, world, forged
):
    app = _app(portal_settings, store, hops=0)
    assert Visitor(app, "203.0.113.1").ask_for_links(LIMIT) == [200] * LIMIT
    # Another forged address, from the same peer: still the peer's count.
    assert Visitor(app, forged).ask_for_links(1, start=50) == [429]
    _sign_in(app, Visitor(app, forged), "a_parent")
    assert _sign_in_addresses(store) == [PROXY]
    app.extensions["billfold"].mailer.flush()


def test_proxy_hops_is_read_from_the_environment_and_checked(tmp_path):
    from sync.config import load_settings
    from sync.errors import ConfigError

    assert load_settings(None, env={}).portal.proxy_hops == 0
    env = {"BILLFOLD_PORTAL_PROXY_HOPS": "2", "BILLFOLD_DATA_DIR": str(tmp_path)}
    assert load_settings(None, env=env).portal.proxy_hops == 2
    with pytest.raises(ConfigError, match="portal.proxy_hops .* between 0"):
        load_settings(None, env={"BILLFOLD_PORTAL_PROXY_HOPS": "-1"})
