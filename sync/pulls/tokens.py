"""Access tokens of an API source: reuse, refresh (rotating), or a new client grant.

Xero Custom Connections use the client credentials grant (no refresh token; an
access token lasts 30 minutes). A Xero or QuickBooks connection made with the
authorisation-code flow keeps a refresh token, which QuickBooks rotates on every
refresh: the new one must be stored before anyone uses the old one again. So a renewal
happens under the job lock ``token:<source>`` (``Locks``, handed in by the workers), with the row read again once the lock
is held: of two workers that find the access token expired, one asks the token
endpoint and the other uses what it stored. A refused grant (``invalid_grant``) marks
the connection revoked; nothing retries it until an admin reconnects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from schemas.tables import utcnow
from sync.api_sources import client_secret
from sync.config import Settings, SourceSettings
from sync.pulls.client import ApiClient
from sync.pulls.connections import REVOKED, Row, mark_revoked, read_row, save_tokens
from sync.pulls.errors import ConnectionRevoked, NotConnected, PullError
from sync.store import Store

EXPIRY_MARGIN = timedelta(seconds=60)
LOCK_WAIT_SECONDS = 60.0  # not money
LOCK_POLL_SECONDS = 0.05  # not money
XERO_SCOPES = "accounting.transactions.read accounting.contacts.read"
QUICKBOOKS_SCOPES = "com.intuit.quickbooks.accounting"


@dataclass(frozen=True)
class Locks:
    """Job locks shared by workers (``sync.workers.claims``), handed in from above:
    ``take(name)`` returns a holder token or None (held elsewhere); ``give(name,
    holder)`` lets go."""

    take: Callable[[str], str | None]
    give: Callable[[str, str], None]


class TokenKeeper:
    """Hands out a valid access token of one API source."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: SourceSettings,
        client: ApiClient,
        locks: Locks | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.client = client
        self.locks = locks  # None: one process alone (the Connect flow's first grant)

    @property
    def name(self) -> str:
        return self.source.name

    def _row(self) -> Row:
        with self.store.read() as conn:
            row = read_row(conn, self.name)
        if row is None:
            raise NotConnected(f"source {self.name!r} has no connection yet")
        if row.state == REVOKED:
            raise ConnectionRevoked(
                f"source {self.name!r}: the connection was revoked or expired "
                f"({row.last_error or 'refused'}); reconnect it from the admin "
                "Connections page"
            )
        return row

    def access_token(self, *, stale: str | None = None) -> str:
        """A valid access token; *stale* is one the service just refused (renew it)."""
        row = self._row()
        tokens = row.tokens(self.settings)
        if tokens.access and tokens.access != stale and self._fresh(row):
            return tokens.access
        return self._renew(row)

    @staticmethod
    def _fresh(row: Row) -> bool:
        expires = row.access_expires_at
        return expires is not None and expires > utcnow() + EXPIRY_MARGIN

    def _renew(self, seen: Row) -> str:
        if self.locks is None:
            return self._grant(self._row().tokens(self.settings).refresh)
        lock = f"token:{self.name}"
        stopping = self.client.stopping
        holder = None
        waited = 0.0  # not money
        while holder is None:
            holder = self.locks.take(lock)
            if holder is None:
                if waited >= LOCK_WAIT_SECONDS or stopping.wait(LOCK_POLL_SECONDS):
                    raise PullError(
                        f"source {self.name!r}: another worker holds its token lock"
                    )
                waited += LOCK_POLL_SECONDS
        try:
            row = self._row()
            tokens = row.tokens(self.settings)
            renewed = row.refreshed_at != seen.refreshed_at
            if renewed and tokens.access and self._fresh(row):
                return tokens.access  # another worker renewed it meanwhile
            return self._grant(tokens.refresh)
        finally:
            self.locks.give(lock, holder)

    def _grant(self, refresh: str | None) -> str:
        if refresh:
            form = {"grant_type": "refresh_token", "refresh_token": refresh}
        elif self.source.kind == "xero":
            form = {"grant_type": "client_credentials", "scope": XERO_SCOPES}
        else:
            raise NotConnected(
                f'source {self.name!r} is not connected: use "Connect QuickBooks" on '
                "the admin Connections page"
            )
        return self._ask(form)

    def _ask(self, form: dict[str, str]) -> str:
        """POST *form* to the token URL and store what comes back."""
        config = self.settings.config_path
        base = config.parent if config is not None else Path.cwd()
        secret = client_secret(self.source, self.name, base)
        try:
            data = self.client.post_token(
                self.source.token_endpoint, form, self.source.client_id, secret
            )
        except ConnectionRevoked as exc:
            mark_revoked(self.store, self.name, str(exc))
            raise
        self._store(data)
        return str(data["access_token"])

    def _store(self, data: dict[str, Any]) -> None:
        expires_in = data.get("expires_in")
        seconds = (
            int(expires_in)
            if isinstance(expires_in, int | str) and str(expires_in).isdigit()
            else 1800
        )
        refresh = data.get("refresh_token")
        with self.store.write(ledger=False) as conn:
            save_tokens(
                conn, self.settings, self.name,
                access=str(data["access_token"]),
                expires_at=utcnow() + timedelta(seconds=seconds),
                refresh=str(refresh) if refresh else None,
            )  # fmt: skip

    def exchange_code(self, code: str, redirect_uri: str) -> None:
        """Trade an authorisation code (the Connect flow's callback) for tokens."""
        self._ask(
            {"grant_type": "authorization_code", "code": code,
             "redirect_uri": redirect_uri}
        )  # fmt: skip
