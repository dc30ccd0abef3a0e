"""Attachments: files a billing system holds on a document, kept as names to fetch.

An export names them (Xero's ``Attachments`` of an invoice, QuickBooks' ``Attachable``
entities linked to a transaction) but never carries their bytes. Each becomes a row of
``attachment`` waiting to be fetched, keyed on the source, the document's external id
and the attachment's own id, so it is kept whether its document is imported before,
with or after it, and a later file that says nothing of it never removes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, insert, select, update

from schemas.limits import LIMITS, clip, preview
from schemas.records import AttachmentRecord, Rejection
from schemas.tables import ATTACHMENTS, utcnow

AT = ATTACHMENTS
CONTENT_TYPE_CHARACTERS = 200


def check_attachment(record: AttachmentRecord) -> Rejection | None:
    """Why an attachment cannot be kept (an id or name over its limit), or None."""
    for field, value in (
        ("id", record.external_id),
        ("id", record.document_ref),
        ("attachment_name", record.name),
    ):
        limit = LIMITS[field]
        if value is not None and len(value) > limit.maximum:
            return Rejection(
                reason=f"expected at most {limit.maximum:,} characters in the "
                f"attachment's {field.replace('_', ' ')} ({limit.why}), found "
                f"{len(value):,}. Shorten it in the billing system and export again",
                line=record.line,
                record=f"attachment of {record.document_kind.replace('_', ' ')} "
                f"{clip(record.document_ref, 100)}",
                column=field,
                value=preview(value),
            )
    if not record.external_id.strip() or not record.document_ref.strip():
        return Rejection(
            reason="expected the attachment's id and the id of its document",
            line=record.line,
            record="attachment",
        )
    return None


def write_attachments(
    conn: Connection, source: str, batch_id: int, records: Iterable[AttachmentRecord]
) -> int:
    """Keep each named attachment (new ones inserted, known ones renamed); return how
    many were new."""
    created = 0
    seen: set[tuple[str, str, str]] = set()
    for r in records:
        key = (r.document_kind, r.document_ref.strip(), r.external_id.strip())
        if key in seen:
            continue
        seen.add(key)
        facts = {
            "name": r.name,
            "content_type": clip(r.content_type, CONTENT_TYPE_CHARACTERS) or None,
            "size": r.size if r.size is not None and 0 <= r.size < 2**62 else None,
        }
        where = (
            (AT.c.source == source)
            & (AT.c.document_kind == key[0])
            & (AT.c.document_ref == key[1])
            & (AT.c.external_id == key[2])
        )
        known = conn.execute(select(AT.c.id, AT.c.name).where(where)).first()
        if known is None:
            conn.execute(
                insert(AT).values(
                    source=source, document_kind=key[0], document_ref=key[1],
                    external_id=key[2], first_batch_id=batch_id,
                    last_batch_id=batch_id, created_at=utcnow(), **facts,
                )
            )  # fmt: skip
            created += 1
        else:
            if r.name is None:  # "has attachments" says nothing new of a named one
                facts = {}
            conn.execute(
                update(AT)
                .where(AT.c.id == known.id)
                .values(last_batch_id=batch_id, **facts)
            )
    return created
