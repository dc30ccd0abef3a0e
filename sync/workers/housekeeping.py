"""Housekeeping: the runner's periodic tidy-up, one job under one job lock.

* files whose worker died, or whose import failed and is due again, are tried again
  (folder claims are noticed again; S3 downloads are retried);
* documents waiting for a manifest row or a record that has since arrived are linked;
* sign-in links and sessions that ended, sign-in attempts (kept for rate limits) and
  mail the outbox is done with (sent, logged, dropped or failed) are deleted
  ``runner.purge_after_days`` after they stop mattering.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete, or_

from schemas.tables import (
    LOGIN_TOKENS,
    OUTBOX,
    PORTAL_SESSIONS,
    SIGN_IN_ATTEMPTS,
    utcnow,
)
from sync.config import Settings
from sync.engine.documents.links import link_waiting
from sync.errors import StoreError
from sync.log import event
from sync.store import Store
from sync.workers.folder import FolderSource
from sync.workers.s3 import S3Source

T = LOGIN_TOKENS
P = PORTAL_SESSIONS
R = SIGN_IN_ATTEMPTS
O = OUTBOX  # noqa: E741


def purge_sign_in_records(store: Store, days: int) -> dict[str, int]:
    """Delete links and sessions that ended, sign-in attempts, and mail the outbox is
    done with, over *days* ago (waiting mail is never deleted)."""
    cutoff = utcnow() - timedelta(days=days)
    with store.write(ledger=False) as conn:
        tokens = conn.execute(
            delete(T).where(or_(T.c.expires_at < cutoff, T.c.used_at < cutoff))
        ).rowcount
        sessions = conn.execute(
            delete(P).where(or_(P.c.expires_at < cutoff, P.c.revoked_at < cutoff))
        ).rowcount
        attempts = conn.execute(delete(R).where(R.c.at < cutoff)).rowcount
        mail = conn.execute(
            delete(O).where(O.c.state != "waiting", O.c.finished_at < cutoff)
        ).rowcount
    return {
        "login_tokens": tokens, "sessions": sessions, "sign_in_attempts": attempts,
        "outbox": mail,
    }  # fmt: skip


def tidy(
    store: Store,
    settings: Settings,
    folders: Iterable[FolderSource] = (),
    buckets: Iterable[S3Source] = (),
) -> None:
    """Run every housekeeping step; one failing step does not stop the others."""
    for folder in folders:
        folder.recover()
    for bucket in buckets:
        retried = bucket.retry_due()
        if retried:
            event("housekeeping.retried", source=bucket.name, files=retried)
    try:
        with store.write(ledger=False) as conn:
            linked = link_waiting(conn, settings)
        if linked:
            event("documents.linked", count=linked)
        purged = purge_sign_in_records(store, settings.runner.purge_after_days)
    except StoreError as exc:
        event("housekeeping.failed", logging.WARNING, error=str(exc))
        return
    if any(purged.values()):
        event("housekeeping.purged", **purged)
