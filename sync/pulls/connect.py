"""Connecting an API source from the admin portal: the authorisation-code flow.

"Connect" sends the admin to the service's consent page with a random ``state``
(kept hashed on the connection row, good for 15 minutes, used once) and the callback
URL ``<base_url>/admin/connections/callback``. The callback must bring the same state
back; its code is traded for tokens (``sync.pulls.tokens``) and QuickBooks' ``realmId``
is kept as the source's realm; for Xero the organisation is asked of Xero's
connections list (``sync.pulls.xero.tenant_after_consent``). "Disconnect" drops the tokens and stops the pulls until
the source is connected again.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from schemas.tables import API_CONNECTIONS, SCHEDULER_JOBS, utcnow
from sync.api_sources import API_KINDS, QUICKBOOKS_AUTHORIZE_URL, XERO_AUTHORIZE_URL
from sync.config import Settings, SourceSettings
from sync.errors import UsageError
from sync.pulls.client import ApiClient, limiter_for
from sync.pulls.connections import (
    CONNECTED,
    DISCONNECTED,
    api_status,
    ensure_row,
    read_row,
    set_values,
)
from sync.pulls.tokens import QUICKBOOKS_SCOPES, XERO_SCOPES, TokenKeeper
from sync.pulls.xero import tenant_after_consent
from sync.store import Store

CALLBACK_PATH = "/admin/connections/callback"
STATE_MINUTES = 15


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def callback_url(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + CALLBACK_PATH


def api_source(settings: Settings, name: str) -> SourceSettings:
    """The configured API source *name*, else UsageError."""
    for source in settings.sources:
        if source.name == name and source.kind in API_KINDS:
            return source
    raise UsageError(f"{name!r} is not a configured xero or quickbooks source")


def start_connect(settings: Settings, store: Store, name: str) -> str:
    """Begin connecting *name*: return the consent page URL to send the admin to."""
    source = api_source(settings, name)
    ensure_row(store, name, source.kind, source.tenant_id or source.realm_id)
    state = secrets.token_urlsafe(32)
    set_values(store, name, auth_state=f"{_hash(state)}@{utcnow().isoformat()}")
    if source.kind == "xero":
        url, scope = XERO_AUTHORIZE_URL, f"offline_access {XERO_SCOPES}"
    else:
        url, scope = QUICKBOOKS_AUTHORIZE_URL, QUICKBOOKS_SCOPES
    query = {"response_type": "code", "client_id": source.client_id, "scope": scope,
             "redirect_uri": callback_url(settings), "state": state}  # fmt: skip
    return f"{url}?{urllib.parse.urlencode(query)}"


def finish_connect(
    settings: Settings, store: Store, state: str, code: str, realm: str | None
) -> str:
    """Complete a connection from the callback; return the source's name."""
    if not state or not code:
        raise UsageError("the callback carries no code or state: connect again")
    with store.read() as conn:
        rows = conn.execute(
            select(API_CONNECTIONS.c.source, API_CONNECTIONS.c.auth_state).where(
                API_CONNECTIONS.c.auth_state.like(f"{_hash(state)}@%")
            )
        ).all()
    if len(rows) != 1:
        raise UsageError(
            "this connection request is unknown or was used: connect again"
        )
    name, stored = str(rows[0].source), str(rows[0].auth_state)
    started = datetime.fromisoformat(stored.partition("@")[2])
    set_values(store, name, auth_state=None)  # used once, whatever happens next
    if utcnow() - started > timedelta(minutes=STATE_MINUTES):
        raise UsageError("this connection request expired: connect again")
    source = api_source(settings, name)
    if source.kind == "quickbooks":
        if not realm and not source.realm_id:
            raise UsageError("QuickBooks sent no company (realmId): connect again")
        set_values(store, name, tenant=source.realm_id or realm)
    client = ApiClient(name, limiter_for(source.kind, name))
    keeper = TokenKeeper(settings, store, source, client)
    keeper.exchange_code(code, callback_url(settings))
    if source.kind == "xero":
        try:
            tenant = tenant_after_consent(source, name, client, keeper.access_token())
        except UsageError as exc:  # shown on the Connections page until it is fixed
            set_values(store, name, last_error=str(exc))
            raise
        set_values(store, name, tenant=tenant, last_error=None)
    return name


def disconnect(store: Store, name: str) -> None:
    """Drop the tokens of *name* and stop its pulls until it is connected again."""
    with store.read() as conn:
        if read_row(conn, name) is None:
            raise UsageError(f"{name!r} has no connection")
    set_values(
        store, name, state=DISCONNECTED, access_token=None, access_expires_at=None,
        refresh_token=None, auth_state=None, last_error="disconnected by an admin",
    )  # fmt: skip


def reconnect(store: Store, name: str) -> None:
    """Let a revoked or disconnected source pull again (a Xero Custom Connection asks
    for a new client-credentials token; a source with no tokens says it needs Connect)."""
    with store.read() as conn:
        if read_row(conn, name) is None:
            raise UsageError(f"{name!r} has no connection")
    set_values(store, name, state=CONNECTED, last_error=None)


def connections(conn: Connection, settings: Settings) -> list[dict[str, Any]]:
    """The Connections page: each API source's state, last and next pull, errors."""
    rows = api_status(conn, settings)
    jobs: dict[str, Any] = dict(
        conn.execute(select(SCHEDULER_JOBS.c.id, SCHEDULER_JOBS.c.next_run_time)).all()
    )
    for row in rows:
        when = jobs.get(f"billfold:pull:{row['source']}")
        row["next_pull"] = None if when is None else _iso_z(when)
    return rows


def _iso_z(epoch: Any) -> str:
    """APScheduler's next run time (Unix seconds) as ``2026-12-07T05:00:00Z``."""
    moment = datetime.fromtimestamp(float(epoch), UTC)  # not money: seconds
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
