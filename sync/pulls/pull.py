"""One pull of one API source (``pull``; its entry point, which takes the source's job
lock, is ``sync.workers.api.pull_source``).

Each page the API returns is saved as an original, byte for byte, and imported through
the pipeline as its own batch (``sync.engine.pipeline.import_file``), under the
source's identity namespace, or under the file source it ``takes_over``: a pulled
record and an exported one are the same record. After each applied page the cursor
(``api_connection.cursor``) records the next page, so a pull cut off (``kill -9``)
resumes there; a page fetched again is the same bytes (a duplicate) or the same
records (unchanged), so nothing is lost or duplicated.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.tables import utcnow
from sync import faults
from sync.api_sources import API_KINDS
from sync.config import Settings, SourceSettings
from sync.engine.batch import ImportResult
from sync.engine.pipeline import import_file
from sync.errors import StoreError, UsageError
from sync.log import event
from sync.pulls.client import Answer, ApiClient, limiter_for
from sync.pulls.connections import (
    DISCONNECTED,
    REVOKED,
    ensure_row,
    mark_revoked,
    read_row,
    save_cursor,
    set_values,
)
from sync.pulls.errors import ConnectionRevoked, NotConnected, PullError
from sync.pulls.tokens import Locks, TokenKeeper
from sync.store import Store
from sync.store.permissions import private_dir


@dataclass(frozen=True)
class PullOutcome:
    """How a pull ended: ``done``, ``skipped`` (another worker pulls), ``failed``,
    ``revoked``, ``disconnected`` or ``not connected``; pages applied; the error."""

    source: str
    status: str
    pages: int = 0
    problems: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")


class Puller:
    """What a pull of one source needs: its client, tokens, cursor and page import."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: SourceSettings,
        stopping: threading.Event,
        locks: Locks | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.stopping = stopping
        self.tenant = source.tenant_id or source.realm_id
        row = ensure_row(store, source.name, source.kind, self.tenant)
        self.tenant = row.tenant or ""
        self.client = ApiClient(
            source.name,
            limiter_for(source.kind, self.tenant or source.name),
            stopping=stopping,
        )
        self.tokens = TokenKeeper(settings, store, source, self.client, locks)
        self.pages = 0
        self.problems = 0
        self.fetched_at = utcnow()

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def identity(self) -> str:
        """The source name records are kept under (the taken-over file source's)."""
        return self.source.takes_over or self.source.name

    def cursor(self) -> dict[str, Any]:
        with self.store.read() as conn:
            row = read_row(conn, self.name)
        return {} if row is None else row.cursor_data()

    def signed_in_by_a_person(self) -> bool:
        """True when the connection came from a person's consent (it holds a refresh
        token), not from client credentials (a Xero Custom Connection)."""
        with self.store.read() as conn:
            row = read_row(conn, self.name)
        return row is not None and row.refresh_token is not None

    def save_cursor(self, cursor: dict[str, Any]) -> None:
        save_cursor(self.store, self.name, cursor)

    def get(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> Answer:
        """GET with the access token; a 401 renews it once, a second 401 is revoked."""
        if self.stopping.is_set():
            raise PullError("the pull was stopped")
        token = self.tokens.access_token()
        try:
            return self.client.get(
                url, params, {**headers, "Authorization": f"Bearer {token}"}
            )
        except ConnectionRevoked:
            token = self.tokens.access_token(stale=token)
        try:
            return self.client.get(
                url, params, {**headers, "Authorization": f"Bearer {token}"}
            )
        except ConnectionRevoked as exc:
            mark_revoked(self.store, self.name, f"{exc} after a token refresh")
            raise

    def import_page(
        self, body: bytes, label: str, cursor: dict[str, Any]
    ) -> ImportResult:
        """Save one page as an original, import it as its own batch, then record
        *cursor* (where to go on from).

        A page the store could not apply (``failed``) stops the pull, to be resumed
        from this page; a page rejected whole is counted and the pull goes on (its
        bytes are kept with the reason).
        """
        folder = Path(self.settings.data_dir) / "tmp"
        private_dir(folder)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".pull-", suffix=".json")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            stamp = self.fetched_at.strftime("%Y-%m-%dT%H%M%SZ")
            result = import_file(
                self.store, self.settings, path, source=self.identity,
                name=f"{self.name} {label} {stamp}.json", as_of=self.fetched_at,
            )  # fmt: skip
        finally:
            path.unlink(missing_ok=True)
        event(
            "pull.page", source=self.name, page=label, status=result.status,
            batch=result.batch_id, created=result.created, updated=result.updated,
        )  # fmt: skip
        if result.status == "failed":
            raise PullError(f"{label} could not be applied: {result.reason}")
        if result.status == "rejected":
            self.problems += 1
        self.pages += 1
        self.save_cursor(cursor)
        faults.hit("pulled_page")
        return result


def _run(puller: Puller) -> None:
    if puller.source.kind == "xero":
        from sync.pulls.xero import pull_xero

        pull_xero(puller)
    else:
        from sync.pulls.quickbooks import pull_quickbooks

        pull_quickbooks(puller)


def pull(
    settings: Settings,
    store: Store,
    name: str,
    *,
    stopping: threading.Event | None = None,
    locks: Locks | None = None,
) -> PullOutcome:
    """Pull API source *name* once. The caller holds its job lock ``pull:<name>``
    (``sync.workers.api.pull_source`` takes it) and hands in the job locks tokens are
    renewed under (*locks*)."""
    source = settings.source(name)
    if source.kind not in API_KINDS or source not in settings.sources:
        raise UsageError(f"{name!r} is not a configured xero or quickbooks source")
    stopping = stopping or threading.Event()
    with store.read() as conn:
        row = read_row(conn, source.name)
    if row is not None and row.state in (REVOKED, DISCONNECTED):  # until reconnected
        error = f"connection {row.state}: {row.last_error}; reconnect it to pull again"
        return PullOutcome(source.name, row.state, error=error)
    event("pull.started", source=source.name, kind=source.kind)
    puller = Puller(settings, store, source, stopping, locks)
    set_values(store, source.name, last_pull_at=utcnow())
    try:
        _run(puller)
    except (ConnectionRevoked, NotConnected, PullError, StoreError) as exc:
        status = (
            "revoked" if isinstance(exc, ConnectionRevoked)
            else "not connected" if isinstance(exc, NotConnected)
            else "failed"
        )  # fmt: skip
        error = str(exc)
        event("pull.failed", logging.ERROR, source=source.name, status=status,
              error=error, pages=puller.pages)  # fmt: skip
        with contextlib.suppress(StoreError):
            set_values(store, source.name, last_error=error)
        return PullOutcome(source.name, status, puller.pages, puller.problems, error)
    set_values(store, source.name, last_success_at=utcnow(), last_error=None)
    event("pull.done", source=source.name, pages=puller.pages, problems=puller.problems)
    return PullOutcome(source.name, "done", puller.pages, puller.problems)
