"""Import batches as the admin sees them: the dashboard's counts, the imports list, one
batch with its rejected records, and where its original file is kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from schemas.tables import (
    CONFLICTS,
    DOCUMENTS,
    IMPORT_BATCHES,
    PAYMENT_CLAIMS,
    ROW_ERRORS,
)

B = IMPORT_BATCHES
RE = ROW_ERRORS


def attention_counts(conn: Connection) -> dict[str, int]:
    """What waits for the office: open conflicts, pending claims, staged batches and
    documents that no account holds."""
    counts = {
        "conflicts": select(func.count()).where(CONFLICTS.c.resolved_at.is_(None)),
        "claims": select(func.count()).where(PAYMENT_CLAIMS.c.state == "pending"),
        "staged": select(func.count()).where(B.c.status == "staged"),
        "unlinked": select(func.count()).where(DOCUMENTS.c.account_id.is_(None)),
    }
    return {name: conn.execute(query).scalar_one() for name, query in counts.items()}


def recent_batches(conn: Connection, limit: int) -> Sequence[Any]:
    """The newest *limit* batches."""
    return conn.execute(select(B).order_by(B.c.id.desc()).limit(limit)).all()


def batch_sources(conn: Connection) -> list[str]:
    """Every source a batch came from."""
    return [r[0] for r in conn.execute(select(B.c.source).distinct())]


def batch_page(
    conn: Connection, source: str | None, status: str | None, page: int, size: int
) -> tuple[int, Sequence[Any], Sequence[Any]]:
    """``(total, rows, per_source)``: the batches of *source* and *status* (either may
    be None: all), newest first, one page of *size*; and per source its last start, its
    rejected records and its batch count."""
    conditions = []
    if source:
        conditions.append(B.c.source == source)
    if status:
        conditions.append(B.c.status == status)
    total = conn.execute(
        select(func.count()).select_from(B).where(*conditions)
    ).scalar_one()
    rows = conn.execute(
        select(B)
        .where(*conditions)
        .order_by(B.c.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    per_source = conn.execute(
        select(
            B.c.source, func.max(B.c.started_at), func.sum(B.c.rejected), func.count()
        ).group_by(B.c.source)
    ).all()
    return total, rows, per_source


def batch_with_errors(
    conn: Connection, batch_id: int, limit: int
) -> tuple[Any | None, Sequence[Any]]:
    """The batch *batch_id* (None when there is none) and its first *limit* rejected
    records in file order."""
    row = conn.execute(select(B).where(B.c.id == batch_id)).first()
    if row is None:
        return None, []
    errors = conn.execute(
        select(RE)
        .where(RE.c.batch_id == batch_id)
        .order_by(RE.c.line, RE.c.id)
        .limit(limit)
    ).all()
    return row, errors


def original_of(conn: Connection, batch_id: int) -> Any | None:
    """Where batch *batch_id*'s original file is kept, and its name."""
    return conn.execute(
        select(B.c.stored_path, B.c.file_name).where(B.c.id == batch_id)
    ).first()


def earlier_batch(conn: Connection, batch_id: int | None) -> Any | None:
    """The batch a duplicate repeats: its id, file name, source, status and when it
    arrived (None when there is none)."""
    if batch_id is None:
        return None
    return conn.execute(
        select(B.c.id, B.c.file_name, B.c.source, B.c.status, B.c.started_at).where(
            B.c.id == batch_id
        )
    ).first()
