"""Manifests on import: store each row, link the files it names, or let them wait.

Reading a manifest is an adapter's work (``adapters.manifest``); here its rows become
``manifest_entry`` rows in the batch's transaction. A row may arrive before or after
its file, and before the account or record it names: it waits (``pending``) until both
are in the store, and ``sync.engine.documents.links.link_waiting`` links it then.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, func, insert, select, update

from adapters.errors import FileRejected
from adapters.manifest import ManifestRow, read_manifest
from schemas.records import Rejection
from schemas.tables import (
    DOCUMENTS,
    IMPORT_BATCHES,
    MANIFEST_ENTRIES,
    utcnow,
)
from sync.engine.batch import Done, Handler, ImportResult
from sync.engine.documents.links import apply_entry

D = DOCUMENTS
B = IMPORT_BATCHES
M = MANIFEST_ENTRIES


def manifest_handler(path: Path, encoding: str, source: str) -> Handler:
    """Return the batch handler that records the manifest at *path*."""

    def handle(conn: Connection, batch_id: int, result: ImportResult) -> Done:
        result.adapter = "manifest"
        try:
            items = list(read_manifest(path, encoding))
        except (OSError, UnicodeDecodeError) as exc:
            raise FileRejected(f"cannot read the manifest: {exc}") from exc
        rows = [i for i in items if isinstance(i, ManifestRow)]
        rejections = [i for i in items if isinstance(i, Rejection)]
        linked, waiting = add_manifest(conn, source, batch_id, rows)
        warnings = []
        if waiting:
            warnings = [
                f"{waiting} file(s) named here are not linked yet (the file, its "
                "account or its record has not arrived); they will be linked "
                "when it does"
            ]
        return Done(
            created=len(rows), rejections=rejections, warnings=warnings,
            logged="import.manifest",
            log={"batch": batch_id, "rows": len(rows), "linked": linked,
                 "waiting": waiting, "rejected": len(rejections)},
        )  # fmt: skip

    return handle


def add_manifest(
    conn: Connection, source: str, batch_id: int, rows: list[ManifestRow]
) -> tuple[int, int]:
    """Store a manifest's rows and link what can be; return (linked, waiting)."""
    linked = waiting = 0
    for row in rows:
        entry_id: int = conn.execute(
            insert(M)
            .values(
                source=source,
                batch_id=batch_id,
                line=row.line,
                file_name=row.file_name,
                account_ref=row.account_ref,
                record_ref=row.record_ref,
                kind=row.kind,
                state="pending",
                created_at=utcnow(),
            )
            .returning(M.c.id)
        ).scalar_one()
        entry = conn.execute(select(M).where(M.c.id == entry_id)).one()
        document_id = _document_named(conn, source, row.file_name)
        if document_id is None:
            conn.execute(
                update(M)
                .where(M.c.id == entry_id)
                .values(reason="the file has not arrived yet")
            )
            waiting += 1
            continue
        conn.execute(
            update(M).where(M.c.id == entry_id).values(document_id=document_id)
        )
        arrival = apply_entry(conn, entry, document_id)
        if arrival.linked_to:
            linked += 1
        elif arrival.reason:
            waiting += 1
    return linked, waiting


def _document_named(conn: Connection, source: str, name: str) -> int | None:
    """Return the newest unlinked document called *name* (this source first)."""
    base = (
        select(D.c.id)
        .join(B, B.c.id == D.c.batch_id)
        .where(
            func.lower(D.c.file_name) == name.lower(),
            D.c.account_id.is_(None),
            D.c.id.not_in(
                select(M.c.document_id).where(
                    M.c.document_id.is_not(None), M.c.state == "pending"
                )
            ),
        )
        .order_by(D.c.id.desc())
        .limit(1)
    )
    found = conn.execute(base.where(B.c.source == source)).scalar()
    if found is None:
        found = conn.execute(base).scalar()
    if found is None:
        # Already linked (by its name, before the manifest came): first wins.
        linked = conn.execute(
            select(D.c.id)
            .where(func.lower(D.c.file_name) == name.lower())
            .order_by(D.c.id.desc())
            .limit(1)
        ).scalar()
        return linked
    return found
