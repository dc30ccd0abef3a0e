"""Requests for a pull: "pull this API source soon", written by webhooks, taken by workers.

``request_pull`` runs inside the caller's transaction and coalesces: while a request for
a source waits untaken, asking again adds nothing (a partial unique index on
``pull_requests(source) WHERE taken_at IS NULL`` makes this hold under concurrent
callers too; the insert does nothing on a conflict). ``take_requested`` claims every
waiting request in one ``UPDATE ... WHERE taken_at IS NULL RETURNING``: on SQLite the
write lock orders takers, on PostgreSQL a second taker waits for the first's row locks
and then finds ``taken_at`` set, so no row is ever handed to two workers. A request
that arrives after a take waits for the next one.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from schemas.limits import clip
from schemas.tables import PULL_REQUESTS, utcnow

P = PULL_REQUESTS
DETAIL_CHARACTERS = 4000  # what a request says it wants, kept short


def request_pull(conn: Connection, source: str, reason: str, detail: str = "") -> int:
    """Ask for a pull of *source*; return the id of the request that now waits for it.

    *detail* is kept as JSON text (what was asked, for the admin); a request already
    waiting for *source* is returned as it is.
    """
    values: dict[str, Any] = {
        "source": source,
        "reason": reason,
        "detail": _json_text(detail),
        "requested_at": utcnow(),
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(P)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[P.c.source], index_where=P.c.taken_at.is_(None)
        )
    )
    conn.execute(statement)
    waiting: int = conn.execute(
        select(P.c.id).where(P.c.source == source, P.c.taken_at.is_(None))
    ).scalar_one()
    return waiting


def take_requested(conn: Connection, sources: list[str] | None = None) -> list[str]:
    """Claim every waiting request (of *sources*, when given); return their sources
    (each once, oldest first)."""
    waiting: list[ColumnElement[bool]] = [P.c.taken_at.is_(None)]
    if sources is not None:
        waiting.append(P.c.source.in_(sources))
    rows = conn.execute(
        update(P)
        .where(*waiting)
        .values(taken_at=utcnow())
        .returning(P.c.id, P.c.source)
    ).all()
    taken: list[str] = []
    for row in sorted(rows, key=lambda r: r.id):
        if row.source not in taken:
            taken.append(str(row.source))
    return taken


def waiting_requests(conn: Connection) -> dict[str, int]:
    """How many requests wait per source (at most one each; for metrics and status)."""
    return {
        row.source: row.n
        for row in conn.execute(
            select(P.c.source, func.count().label("n"))
            .where(P.c.taken_at.is_(None))
            .group_by(P.c.source)
        )
    }


def _json_text(detail: str) -> str:
    """*detail* as JSON text: kept as given when it is JSON, else as a JSON string."""
    detail = clip(detail, DETAIL_CHARACTERS)
    if not detail:
        return ""
    try:
        json.loads(detail)
    except ValueError:
        return json.dumps(detail)
    return detail
