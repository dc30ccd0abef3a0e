"""The ``api_connection`` row of each API source: state, tokens (sealed) and cursor.

Tokens are sealed with Fernet under a key derived (HKDF-SHA256) from the install's
secret key (``sync.store.permissions.secret_key``): a copy of the database alone does not give
them away. Nothing here logs a token; ``status`` returns what ``billfold status`` and
the admin pages may show.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from schemas.tables import API_CONNECTIONS, utcnow
from sync.api_sources import API_KINDS
from sync.config import Settings
from sync.pulls.errors import NotConnected
from sync.store import Store
from sync.store.permissions import secret_key

T = API_CONNECTIONS
CONNECTED = "connected"
REVOKED = "revoked"
DISCONNECTED = "disconnected"


def _fernet(settings: Settings) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"billfold",
        info=b"api connection tokens",
    ).derive(secret_key(settings).encode())  # fmt: skip
    return Fernet(base64.urlsafe_b64encode(key))


def seal(settings: Settings, token: str | None) -> bytes | None:
    """Encrypt *token* for the database (None stays None)."""
    return None if token is None else _fernet(settings).encrypt(token.encode())


def unseal(settings: Settings, sealed: bytes | None, source: str) -> str | None:
    """Decrypt a stored token; a token sealed under another secret key needs a reconnect."""
    if sealed is None:
        return None
    try:
        return _fernet(settings).decrypt(bytes(sealed)).decode()
    except InvalidToken as exc:
        raise NotConnected(
            f"source {source!r}: its stored tokens were encrypted under another secret "
            "key; reconnect it from the admin Connections page"
        ) from exc


@dataclass(frozen=True)
class Tokens:
    """A connection's tokens, decrypted."""

    access: str | None
    access_expires_at: datetime | None
    refresh: str | None
    refreshed_at: datetime | None


@dataclass(frozen=True)
class Row:
    """A connection row, tokens still sealed."""

    source: str
    kind: str
    state: str
    tenant: str | None
    access_token: bytes | None
    access_expires_at: datetime | None
    refresh_token: bytes | None
    refreshed_at: datetime | None
    auth_state: str | None
    cursor: str | None
    last_pull_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    updated_at: datetime | None

    def tokens(self, settings: Settings) -> Tokens:
        return Tokens(
            unseal(settings, self.access_token, self.source),
            self.access_expires_at,
            unseal(settings, self.refresh_token, self.source),
            self.refreshed_at,
        )

    def cursor_data(self) -> dict[str, Any]:
        try:
            data = json.loads(self.cursor or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


def read_row(conn: Connection, source: str) -> Row | None:
    """The connection row of *source*, if any."""
    row = conn.execute(select(*T.columns).where(T.c.source == source)).first()
    return None if row is None else Row(**row._mapping)


def stored_organisations(conn: Connection) -> dict[str, str | None]:
    """Each API source's tenant or realm id as its connection keeps it."""
    return {r.source: r.tenant for r in conn.execute(select(T.c.source, T.c.tenant))}


def ensure_row(store: Store, source: str, kind: str, tenant: str | None) -> Row:
    """Create the row of *source* (connected, no tokens) unless it exists; return it."""
    with store.write(ledger=False) as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(T)
            .values(source=source, kind=kind, state=CONNECTED, tenant=tenant or None,
                    updated_at=utcnow())
            .on_conflict_do_nothing()
        )  # fmt: skip
        if tenant:  # a tenant/realm id set in the config wins over a stored one
            conn.execute(update(T).where(T.c.source == source).values(tenant=tenant))
        row = read_row(conn, source)
    assert row is not None
    return row


def set_values(store: Store, source: str, **values: Any) -> None:
    """Update columns of *source*'s row in one committed transaction."""
    with store.write(ledger=False) as conn:
        conn.execute(
            update(T).where(T.c.source == source).values(updated_at=utcnow(), **values)
        )


def save_tokens(
    conn: Connection,
    settings: Settings,
    source: str,
    *,
    access: str,
    expires_at: datetime | None,
    refresh: str | None,
) -> None:
    """Store new tokens (a rotated refresh token replaces the old one) as connected."""
    values: dict[str, Any] = {
        "access_token": seal(settings, access),
        "access_expires_at": expires_at,
        "refreshed_at": utcnow(),
        "state": CONNECTED,
        "last_error": None,
        "updated_at": utcnow(),
    }
    if refresh is not None:
        values["refresh_token"] = seal(settings, refresh)
    conn.execute(update(T).where(T.c.source == source).values(**values))


def save_cursor(store: Store, source: str, cursor: dict[str, Any]) -> None:
    """Record where a pull got to (committed after each page it applied)."""
    set_values(store, source, cursor=json.dumps(cursor, sort_keys=True))


def mark_revoked(store: Store, source: str, error: str) -> None:
    """Stop pulling *source* until an admin reconnects it; drop its tokens."""
    set_values(
        store, source, state=REVOKED, last_error=error, access_token=None,
        access_expires_at=None, refresh_token=None,
    )  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def api_status(conn: Connection, settings: Settings) -> list[dict[str, Any]]:
    """One object per API source: its name and kind, then ``status``."""
    return [
        {"source": s.name, "kind": s.kind, **status(conn, s.name)}
        for s in settings.sources
        if s.kind in API_KINDS
    ]


def status(conn: Connection, source: str) -> dict[str, Any]:
    """What ``billfold status`` shows of a connection (never a token)."""
    row = read_row(conn, source)
    if row is None:
        return {"state": "not connected", "tenant": None, "last_pull": None,
                "last_success": None, "error": None}  # fmt: skip
    state = row.state
    if state == CONNECTED and row.refresh_token is None and row.access_token is None:
        state = "not connected" if row.kind == "quickbooks" else CONNECTED
    return {
        "state": state,
        "tenant": row.tenant,
        "last_pull": _iso(row.last_pull_at),
        "last_success": _iso(row.last_success_at),
        "error": row.last_error,
    }
