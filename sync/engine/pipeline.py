"""The import pipeline: the one place that runs the stages in order.

    fingerprint -> (duplicate?) -> intake -> detect -> parse -> validate -> reconcile -> apply

Every source (the CLI, watched folders, S3 polls, uploads) hands a file to
``import_file`` and gets an ``ImportResult``. The file is read once to hash it and keep
its first bytes (``sync.store.blobs.fingerprint``): bytes already applied are a
``duplicate`` and cost nothing more. The first bytes also say what the file is: a PDF,
PNG or JPEG is a document (``sync.engine.documents.incoming``), a CSV whose header is
``file, account, record, kind`` is a documents manifest
(``sync.engine.documents.manifests``), anything else an export
(``sync.engine.exports``). Each is one batch: ``sync.engine.batch.run_batch`` opens it,
runs the handler in one transaction together with the batch record, and decides the
outcome; a crash leaves the store as before or as after, never between.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from adapters.manifest import is_manifest
from adapters.toolkit.text import decode_head
from sync.config import Settings
from sync.engine.batch import (
    ImportResult,
    find_applied_batch,
    record_duplicate,
    run_batch,
)
from sync.engine.documents.incoming import document_handler, sniff_content_type
from sync.engine.documents.manifests import manifest_handler
from sync.engine.exports import export_handler
from sync.engine.intake import IntakeError, display_name, take_in
from sync.engine.review import mark_published, staged_batch
from sync.errors import UsageError
from sync.log import event
from sync.store import Store
from sync.store.blobs import (
    BlobMissing,
    Fingerprint,
    fingerprint,
    keep_original,
    original_file,
    original_location,
    store_document_file,
)


def import_file(
    store: Store,
    settings: Settings,
    path: Path,
    *,
    source: str = "default",
    adapter: str | None = None,
    name: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    review: bool | None = None,
    publishing: bool = False,
    as_of: datetime | None = None,
    hold_namesakes: bool = False,
    known: Fingerprint | None = None,
    before_apply: Callable[[], None] | None = None,
) -> ImportResult:
    """Import one file into the store and return what happened.

    *as_of* is when the export was made if its source knows (an S3 object's
    LastModified); by default the file's modification time. A time the file itself
    states (``ExportInfo``) wins over both. An import that creates accounts named like
    accounts of another source warns (``sync.engine.namesakes``); with *hold_namesakes*
    (an upload from the portal) it is staged instead, until an admin confirms it.
    *known* is the file's fingerprint when the caller already read it (a folder
    source hashes a file to claim it): the file is not hashed again. *before_apply*
    is called once the export is kept and parsed, just before its transaction takes
    the ledger lock (a bucket worker waits there for older exports of its source; what
    it raises is the caller's own and passes through).

    For a source with ``review = true`` (or *review* True) the file is staged: its
    effect is computed and shown to an admin, and nothing is written until it is
    published (``publish_staged``).

    Never raises for bad input: unreadable files, unknown formats and bad records all
    end in the result (and, once the bytes are kept, in an ``import_batch`` row).
    """
    display = display_name(name or path.name)
    try:
        known = known or fingerprint(path)
    except OSError as exc:
        reason = f"cannot read {path}: {exc.strerror or exc}"
        return _unreadable(name or path.name, reason)
    content_type = sniff_content_type(known.head)
    if content_type is not None:
        return _import_document(
            store, settings, path, display, source, content_type, known
        )
    mode = settings.source(source).mode
    with store.read() as conn:
        earlier = find_applied_batch(conn, known.sha256, staged=not publishing)
    if earlier is not None:  # bytes already applied cost one read to hash, no copy
        values = {
            "source": source, "file_name": display, "sha256": known.sha256,
            "size": known.size, "mode": mode,
            "stored_path": original_location(settings, known.sha256),
        }  # fmt: skip
        result = ImportResult(display, known.sha256, None, "applied")
        with store.write() as conn:
            return record_duplicate(conn, values, result, earlier)
    try:
        intake = take_in(path, settings.data_dir, name, known)
    except IntakeError as exc:
        return _unreadable(name or path.name, str(exc))
    try:
        kept = keep_original(settings, intake.stored_path, intake.sha256)
    except Exception as exc:  # the blob store (S3) unreachable: retried later
        reason = f"cannot keep the original in storage: {exc}"
        event("import.failed", logging.ERROR, file=intake.name, reason=reason)
        return ImportResult(intake.name, intake.sha256, None, "failed", reason=reason)
    values = {
        "source": source, "file_name": intake.name, "sha256": intake.sha256,
        "size": intake.size, "encoding": intake.encoding.codec,
        "stored_path": kept, "mode": mode,
    }  # fmt: skip
    if is_manifest(decode_head(intake.head, intake.encoding)):
        assert intake.encoding.codec is not None
        handler = manifest_handler(intake.stored_path, intake.encoding.codec, source)
    else:
        handler = export_handler(
            settings, intake, source, adapter=adapter, review=review,
            hold_namesakes=hold_namesakes, as_of=as_of, on_progress=on_progress,
        )  # fmt: skip
    if before_apply is not None:
        before_apply()
    return run_batch(store, settings, values, handler, publishing=publishing)


def _import_document(
    store: Store,
    settings: Settings,
    path: Path,
    name: str,
    source: str,
    content_type: str,
    known: Fingerprint,
) -> ImportResult:
    """Store a PDF or image as a Document (one batch) and link it if anything says how."""
    try:
        stored = store_document_file(settings, path, known)
    except OSError as exc:
        return _unreadable(name, f"cannot read {path}: {exc.strerror or exc}")
    except Exception as exc:  # document storage (S3) unreachable: retry later
        reason = f"cannot store the document: {exc}"
        event("import.failed", logging.ERROR, file=name, reason=reason)
        return ImportResult(name, None, "document", "failed", reason=reason)
    values = {
        "source": source, "file_name": name, "sha256": stored.sha256,
        "size": stored.size, "adapter": "document",
        "stored_path": stored.storage_key, "mode": settings.source(source).mode,
    }  # fmt: skip
    handler = document_handler(settings, name, source, stored, content_type)
    return run_batch(store, settings, values, handler)


def _unreadable(name: str, reason: str) -> ImportResult:
    """A file that cannot be read: nothing is kept, so no batch records it."""
    event("import.unreadable", logging.WARNING, file=name, reason=reason)
    return ImportResult(name, None, None, "rejected", reason=reason)


def publish_staged(
    store: Store, settings: Settings, batch_id: int, actor: str
) -> ImportResult:
    """Import a staged batch's kept original for real, then close the staged batch.

    The original may have been kept by another node: it is read from the blob store
    (``sync.store.blobs.original_file``).
    """
    with store.read() as conn:
        batch = staged_batch(conn, batch_id)
    try:
        path = original_file(settings, batch.stored_path)
    except BlobMissing as exc:
        raise UsageError(
            f"batch {batch_id} cannot be published: {exc}; import the file again"
        ) from exc
    result = import_file(
        store, settings, path, source=batch.source, name=batch.file_name,
        adapter=batch.adapter, review=False, publishing=True, as_of=batch.as_of,
    )  # fmt: skip
    if result.ok:
        with store.write(ledger=False) as conn:
            mark_published(conn, batch_id, result.batch_id, actor)
    return result
