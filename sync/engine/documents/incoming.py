"""A document file arriving: stored as a Document and linked if anything says how.

A file whose first bytes are a PDF, PNG or JPEG (sniffed from the content, never the
name) is not an export: its bytes go to document storage (``sync.store.blobs``) and the
batch handler here inserts the Document, then links it by a manifest row waiting for a
file of its name, else by the record number in its name (``links``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from schemas.tables import DOCUMENTS, MANIFEST_ENTRIES, utcnow
from sync.config import Settings
from sync.engine.batch import Done, Handler, ImportResult
from sync.engine.documents.links import Arrival, apply_entry, link_by_name
from sync.store.blobs import StoredBlob

D = DOCUMENTS
M = MANIFEST_ENTRIES

_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def document_handler(
    settings: Settings, name: str, source: str, stored: StoredBlob, content_type: str
) -> Handler:
    """Return the batch handler that records the stored document *stored*."""

    def handle(conn: Connection, batch_id: int, result: ImportResult) -> Done:
        result.adapter = "document"
        arrival = add_document(
            conn, settings, source=source, batch_id=batch_id, name=name,
            sha256=stored.sha256, storage_key=stored.storage_key, size=stored.size,
            content_type=content_type,
        )  # fmt: skip
        warnings = []
        if arrival.linked_to is None:
            warnings = [
                f"not linked yet ({arrival.reason}); it waits in the list of "
                "unmatched documents"
            ]
        return Done(
            created=1, warnings=warnings, logged="import.document",
            log={"batch": batch_id, "document": arrival.document_id,
                 "linked_to": arrival.linked_to, "waiting": arrival.reason},
        )  # fmt: skip

    return handle


def sniff_content_type(head: bytes) -> str | None:
    """Return the content type of a PDF, PNG or JPEG from its first bytes, else None."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    return None


def add_document(
    conn: Connection,
    settings: Settings,
    *,
    source: str,
    batch_id: int,
    name: str,
    sha256: str,
    storage_key: str,
    size: int,
    content_type: str,
) -> Arrival:
    """Insert a Document for a stored file and link it if a manifest or its name can."""
    document_id: int = conn.execute(
        insert(D)
        .values(
            sha256=sha256,
            kind="other",
            file_name=name,
            content_type=content_type,
            size=size,
            storage_key=storage_key,
            batch_id=batch_id,
            created_at=utcnow(),
        )
        .returning(D.c.id)
    ).scalar_one()
    entry = _pending_entry_for(conn, source, name)
    if entry is not None:
        conn.execute(
            update(M).where(M.c.id == entry.id).values(document_id=document_id)
        )
        return apply_entry(conn, entry, document_id)
    return link_by_name(conn, settings, document_id, name, source)


def _pending_entry_for(conn: Connection, source: str, name: str) -> Any | None:
    base = (
        select(M)
        .where(
            M.c.state == "pending",
            M.c.document_id.is_(None),
            func.lower(M.c.file_name) == name.lower(),
        )
        .order_by(M.c.id.desc())
        .limit(1)
    )
    return (
        conn.execute(base.where(M.c.source == source)).first()
        or conn.execute(base).first()
    )
