"""The audit log: who did what, when, to which account or record. Append-only."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert

from schemas.tables import AUDIT_EVENTS, utcnow

E = AUDIT_EVENTS


def record(
    conn: Connection,
    actor: str,
    action: str,
    *,
    account_id: int | None = None,
    record_kind: str | None = None,
    record_id: int | None = None,
    ip: str | None = None,
    **detail: Any,
) -> None:
    """Append one audit event (``actor``: ``contact:12``, ``admin:office@example.com`` or ``cli``)."""
    conn.execute(
        insert(E).values(
            at=utcnow(),
            actor=actor,
            action=action,
            account_id=account_id,
            record_kind=record_kind,
            record_id=record_id,
            ip=ip,
            detail=json.dumps(detail, default=str, sort_keys=True),
        )
    )
