"""Tokens: sealed at rest, rotated refresh tokens renewed once, never shown anywhere."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import update

from schemas.tables import (
    API_CONNECTIONS,
    AUDIT_EVENTS,
    IMPORT_BATCHES,
    SOURCE_STATES,
    utcnow,
)
from sync.cli import main
from sync.pulls.client import ApiClient, RateLimiter
from sync.pulls.connections import ensure_row, read_row, save_tokens
from sync.pulls.tokens import TokenKeeper
from sync.store.metrics import StoreCollector
from sync.workers.api import job_locks, pull_source
from tests.helpers import dump_business_tables
from tests.sync.pulls.conftest import XERO_SECRET


def _connect_with_refresh_token(store, settings, fake) -> str:
    """A connection made by the authorisation-code flow: a stored refresh token."""
    refresh = fake.tokens.new_refresh_token()
    ensure_row(store, "xero", "xero", fake.tenant)
    with store.write(ledger=False) as conn:
        save_tokens(conn, settings, "xero", access="old-access",
                    expires_at=utcnow() - timedelta(minutes=1), refresh=refresh)  # fmt: skip
    return refresh


def test_two_workers_never_refresh_one_token_twice(store, xero_settings, fake_xero):
    first_refresh = _connect_with_refresh_token(store, xero_settings, fake_xero)
    source = xero_settings.sources[0]
    got: list[str] = []
    start = threading.Barrier(4)

    def worker() -> None:
        client = ApiClient("xero", RateLimiter(60))
        keeper = TokenKeeper(
            xero_settings, store, source, client, job_locks(store, xero_settings)
        )
        start.wait()
        got.append(keeper.access_token())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert fake_xero.tokens.grants == ["refresh_token"]
    assert len(set(got)) == 1 and got[0] in fake_xero.tokens.access
    with store.read() as conn:
        tokens = read_row(conn, "xero").tokens(xero_settings)
    assert tokens.refresh in fake_xero.tokens.refresh  # the rotated one, stored
    assert first_refresh not in fake_xero.tokens.refresh


def test_tokens_are_sealed_and_never_shown(
    store, xero_settings, fake_xero, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG, logger="billfold")
    refresh = _connect_with_refresh_token(store, xero_settings, fake_xero)
    assert pull_source(xero_settings, store, "xero").status == "done"
    fake_xero.tokens.revoked = True
    fake_xero.tokens.expire_access()
    with store.write(ledger=False) as conn:  # make the next call renew
        conn.execute(update(API_CONNECTIONS).values(access_expires_at=utcnow()))
    assert pull_source(xero_settings, store, "xero").status == "revoked"
    secrets = [
        XERO_SECRET,
        refresh,
        *fake_xero.tokens.access,
        *fake_xero.tokens.refresh,
    ]

    with store.read() as conn:
        raw = [
            repr(tuple(r))
            for table in (API_CONNECTIONS, AUDIT_EVENTS, SOURCE_STATES, IMPORT_BATCHES)
            for r in conn.execute(table.select())
        ]
    config = xero_settings.data_dir.parent / "billfold.toml"
    config.write_text(
        f'data_dir = "{xero_settings.data_dir}"\n'
        f'database_url = "{xero_settings.resolved_database_url}"\n'
        'secret_key = "test-secret-key"\n[[sources]]\nname = "xero"\nkind = "xero"\n'
        f'client_id = "xero-client"\nclient_secret_env = "XERO_CLIENT_SECRET"\n'
        f'tenant_id = "{fake_xero.tenant}"\napi_url = "{xero_settings.sources[0].api_url}"\n'
        f'token_url = "{xero_settings.sources[0].token_url}"\n'
    )
    runner = CliRunner()
    shown = [
        runner.invoke(main, ["--config", str(config), "status"]).output,
        runner.invoke(main, ["--config", str(config), "status", "--json"]).output,
    ]
    assert "revoked" in shown[0]
    metrics = [repr(m) for m in StoreCollector(store).collect()]
    everything = "\n".join(
        [caplog.text, *raw, *shown, *metrics, repr(dump_business_tables(store))]
    )
    leaked = [s for s in secrets if s in everything]
    assert leaked == []
