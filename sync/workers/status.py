"""What ``billfold status`` shows: per source, how its files are getting on.

Workers write what they saw of each source into ``source_state`` (``note_poll``,
``note_pending``); the rest comes from the claims. ``source_status`` returns exactly
the objects ``billfold status --json`` prints, so the admin portal shows the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from schemas.tables import (
    FILE_CLAIMS,
    IMPORT_BATCHES,
    SOURCE_STATES,
    utcnow,
)
from sync.api_sources import API_KINDS
from sync.config import Settings
from sync.pulls.connections import status as connection_status
from sync.store import Store
from sync.workers.claims import CLAIMED, FAILED, LISTED, REJECTED, worker_id

S = SOURCE_STATES
C = FILE_CLAIMS
B = IMPORT_BATCHES
FAILED_SHOWN = 50


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def _upsert(conn: Connection, source: str, values: dict[str, Any]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(S).values(source=source, updated_by=worker_id(), **values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[S.c.source],
            set_={"updated_by": worker_id(), **values},
        )
    )


def note_poll(
    store: Store, source: str, *, error: str | None = None, pending: int | None = None
) -> None:
    """Record that a worker looked at *source* (listed the bucket, scanned the folder)."""
    now = utcnow()
    values: dict[str, Any] = {"last_poll_at": now}
    if error is None:
        values["last_success_at"] = now
    else:
        values["last_error"] = error
        values["last_error_at"] = now
    if pending is not None:
        values["files_pending"] = pending
    with store.write(ledger=False) as conn:
        _upsert(conn, source, values)


def note_pending(store: Store, source: str, pending: int) -> None:
    """Record how many files of *source* are waiting to be imported."""
    with store.write(ledger=False) as conn:
        _upsert(conn, source, {"files_pending": pending})


def source_status(conn: Connection, settings: Settings) -> list[dict[str, Any]]:
    """Return one object per configured source (the ``billfold status --json`` list)."""
    states = {row.source: row for row in conn.execute(select(S))}
    out = []
    for source in settings.sources:
        state = states.get(source.name)
        in_progress = conn.execute(
            select(func.count()).where(
                C.c.source == source.name,
                C.c.state == CLAIMED,
                C.c.claimed_by != LISTED,  # listed, waiting for a worker: pending
            )
        ).scalar_one()
        failed = conn.execute(
            select(C)
            .where(C.c.source == source.name, C.c.state.in_((FAILED, REJECTED)))
            .order_by(C.c.finished_at.desc(), C.c.id.desc())
            .limit(FAILED_SHOWN)
        ).all()
        failed_count = conn.execute(
            select(func.count()).where(
                C.c.source == source.name, C.c.state.in_((FAILED, REJECTED))
            )
        ).scalar_one()
        last = conn.execute(
            select(B.c.id, B.c.file_name, B.c.status, B.c.finished_at)
            .where(B.c.source == source.name, B.c.status.in_(("applied", "duplicate")))
            .order_by(B.c.id.desc())
            .limit(1)
        ).first()
        extra = {}
        if source.kind in API_KINDS:  # a revoked connection is shown, not retried
            extra["connection"] = connection_status(conn, source.name)
        out.append(
            {
                **extra,
                "name": source.name,
                "kind": source.kind,
                "location": source.location,
                "schedule": source.effective_schedule,
                "last_poll": _iso(state.last_poll_at) if state else None,
                "last_success": _iso(state.last_success_at) if state else None,
                "last_error": state.last_error if state else None,
                "last_error_at": _iso(state.last_error_at) if state else None,
                "files_pending": state.files_pending if state else None,
                "in_progress": in_progress,
                "last_import": None
                if last is None
                else {
                    "file": last.file_name,
                    "status": last.status,
                    "batch_id": last.id,
                    "at": _iso(last.finished_at),
                },
                "failed_count": failed_count,
                "failed_files": [
                    {
                        "file": c.file_key,
                        "status": c.state,
                        "reason": c.last_error,
                        "batch_id": c.batch_id,
                        "attempts": c.attempts,
                        "at": _iso(c.finished_at),
                        "retry_at": _iso(c.retry_at),
                        "moved_to": c.moved_to,
                    }
                    for c in failed
                ],
            }
        )
    return out
