"""The import pipeline: the one place that runs the stages in order.

    intake -> detect -> parse -> validate -> reconcile -> apply

Every source (the CLI, watched folders, S3 polls, uploads) hands a file to
``import_file`` and gets an ``ImportResult``. One file is one batch, applied in one
transaction together with its batch record: a crash leaves the store as before or as
after, never between. Same bytes again (under any name) are a ``duplicate`` and write
nothing to the ledger.

Two kinds of file take a side road before detection (``sync.documents``): a PDF, PNG
or JPEG (by its first bytes) is stored as a Document, and a documents manifest (a CSV
with ``file, account, record, kind`` columns) records what its files belong to. Each
is still one batch in one transaction, and after every applied export the documents
waiting for its invoices are linked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError, FileRejected
from adapters.registry import detect_adapter, get_adapter
from adapters.text import decode_head
from schemas.limits import clip
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Note,
    PaymentRecord,
    Rejection,
)
from schemas.tables import ImportBatch, RowError, utcnow
from sync import faults
from sync.config import Settings
from sync.engine import documents
from sync.engine.allocations import reject_crossing
from sync.engine.apply import BatchWriter
from sync.engine.former_ids import adopt_former_ids
from sync.engine.intake import (
    Intake,
    IntakeError,
    display_name,
    hash_file,
    stored_path_for,
    take_in,
)
from sync.engine.namesakes import find_namesakes, namesake_warning
from sync.engine.reconcile import reconcile
from sync.engine.review import Diff
from sync.engine.validate import Prepared, bounded, check_account, prepare
from sync.errors import StoreError
from sync.ledger.marks import evaluate_marks
from sync.log import event
from sync.store import Store
from sync.store.blobs import HEAD_BYTES, store_document_file

CHUNK_RECORDS = 2000
NOTE_CHARACTERS = 1000  # a warning quotes cells; a hostile one could be megabytes
MAX_WARNINGS = 50
KIND_ORDER = ("invoice", "credit_note", "payment")


@dataclass
class ImportResult:
    """What importing one file did (the ``billfold import --json`` object)."""

    file: str
    sha256: str | None
    adapter: str | None
    status: str  # applied, duplicate, rejected, failed, staged
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None
    batch_id: int | None = None
    # Seconds spent in each stage (parse, validate, reconcile, apply, finish); for
    # benchmarks and logs, not part of the JSON contract.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the file was applied (bad records or not), staged or a duplicate."""
        return self.status in ("applied", "duplicate", "staged")

    def to_json(self) -> dict[str, Any]:
        """Return the result in the documented JSON shape."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "adapter": self.adapter,
            "status": self.status,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "reason": self.reason,
            "batch_id": self.batch_id,
        }


def _rejection_json(r: Rejection) -> dict[str, Any]:
    return {
        "line": r.line,
        "record": r.record,
        "column": r.column,
        "value": r.value,
        "reason": r.reason,
    }


def find_applied_batch(
    conn: Connection, sha256: str, *, staged: bool = True
) -> tuple[int, str | None] | None:
    """Return (id, adapter) of an applied (or, with *staged*, staged) batch of these bytes."""
    table = ImportBatch.__table__  # type: ignore[attr-defined]
    statuses = ("applied", "staged") if staged else ("applied",)
    row = conn.execute(
        select(table.c.id, table.c.adapter)
        .where(table.c.sha256 == sha256, table.c.status.in_(statuses))
        .order_by(table.c.id)
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def _record_batch(conn: Connection, **values: Any) -> int:
    table = ImportBatch.__table__  # type: ignore[attr-defined]
    values.setdefault("started_at", utcnow())
    values.setdefault("finished_at", utcnow())
    return conn.execute(
        insert(table).values(**values).returning(table.c.id)
    ).scalar_one()


class _Staged(Exception):
    """Raised inside the import transaction to roll a staged batch back."""

    def __init__(self, run: _Run) -> None:
        super().__init__("staged")
        self.run = run


class _Run:
    """State of one file's trip through parse → validate → reconcile → apply."""

    def __init__(
        self,
        conn: Connection,
        intake: Intake,
        source: str,
        snapshot: bool,
        default_currency: str,
        batch_id: int,
        diff: Diff | None = None,
        as_of: datetime | None = None,
    ) -> None:
        self.conn = conn
        self.intake = intake
        self.source = source
        self.default_currency = default_currency
        self.batch_id = batch_id
        self.writer = BatchWriter(
            conn, source=source, batch_id=batch_id, snapshot=snapshot, diff=diff
        )
        self.as_of: datetime | None = as_of or intake.mtime
        self.rejections: list[Rejection] = []
        self.notes: list[str] = []
        self.pending: list[Prepared] = []
        self.accounts: list[AccountRecord] = []
        self.columns: dict[str, str] | None = None  # the export's names for fields
        self.older_example: str | None = None
        self.phases = dict.fromkeys(("parse", "validate", "reconcile", "apply"), 0.0)

    def take(self, items: Iterable[Any]) -> None:
        seen_record = False
        clock = time.perf_counter
        started = clock()
        for item in items:
            if isinstance(item, DocumentRecord | PaymentRecord):
                seen_record = True
                tick = clock()
                prepared = prepare(
                    item,
                    source=self.source,
                    default_currency=self.default_currency,
                    as_of=self.as_of,
                    columns=self.columns,
                )
                self.phases["validate"] += clock() - tick
                if isinstance(prepared, Rejection):
                    self.rejections.append(prepared)
                else:
                    self.pending.append(prepared)
                    if len(self.pending) >= CHUNK_RECORDS:
                        self.flush()
            elif isinstance(item, AccountRecord):
                too_long = check_account(item, None, self.columns)
                if too_long is None:
                    self.accounts.append(item)
                else:
                    self.rejections.append(too_long)
            elif isinstance(item, Rejection):
                self.rejections.append(bounded(item))
            elif isinstance(item, Note):
                where = f"line {item.line}: " if item.line else ""
                self.notes.append(clip(where + item.message, NOTE_CHARACTERS))
            elif isinstance(item, ExportInfo):
                self.columns = {**(self.columns or {}), **(item.columns or {})}
                if item.as_of and not seen_record:
                    self.as_of = item.as_of
        self.flush()
        spent = sum(self.phases.values())
        self.phases["parse"] = clock() - started - spent

    def flush(self) -> None:
        clock = time.perf_counter
        writer = self.writer
        tick = clock()
        writer.ensure_accounts([*self.accounts, *(p.account for p in self.pending)])
        self.accounts = []
        self.phases["apply"] += clock() - tick
        for kind in KIND_ORDER:
            records = [p for p in self.pending if p.kind == kind]
            if not records:
                continue
            tick = clock()
            adopt_former_ids(self.conn, self.source, kind, records, writer.account_ids)
            if kind != "invoice":
                records, crossing = reject_crossing(
                    self.conn, self.source, records, writer.account_ids
                )
                self.rejections += crossing
            stored = writer.stored(kind, (p.key for p in records))
            plan = reconcile(records, stored, self.batch_id)
            self.phases["reconcile"] += clock() - tick
            for record, reason in plan.conflicts:
                self.rejections.append(
                    Rejection(reason=reason, line=record.line, record=record.label)
                )
            if plan.older and self.older_example is None:
                record, existing = plan.older[0]
                self.older_example = (
                    f"{record.label}: stored version of {existing.updated_at:%Y-%m-%d %H:%M}"
                    if existing.updated_at
                    else record.label
                )
            tick = clock()
            writer.apply(kind, plan)
            self.phases["apply"] += clock() - tick
        self.pending = []
        faults.hit("chunk")

    def warnings(self, flagged: int) -> list[str]:
        counts = self.writer.counts
        found = [*self.writer.held, *self.notes, *self.writer.warnings]
        if counts.older:
            found.append(
                f"{counts.older} record(s) in this file are older than the ones already "
                f"stored and were left as they are (e.g. {self.older_example})"
            )
        if counts.superseded:
            found.append(
                f"{counts.superseded} record(s) appeared in this file in more than one "
                "version; the newest version (by the source's version or update time) "
                "was kept"
            )
        if counts.duplicates:
            found.append(
                f"{counts.duplicates} record(s) appeared more than once with the same "
                "content; each was applied once"
            )
        if flagged:
            found.append(
                f"{flagged} record(s) from earlier snapshots are missing from this one; "
                "they are flagged for review, not deleted"
            )
        if len(found) > MAX_WARNINGS:
            extra = len(found) - MAX_WARNINGS
            found = [*found[:MAX_WARNINGS], f"... and {extra} more"]
        return found


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
) -> ImportResult:
    """Import one file into the store and return what happened.

    *as_of* is when the export was made if its source knows (an S3 object's
    LastModified); by default the file's modification time. A time the file itself
    states (``ExportInfo``) wins over both. An import that creates accounts named like
    accounts of another source warns (``sync.namesakes``); with *hold_namesakes* (an
    upload from the portal) it is staged instead, until an admin confirms it.

    For a source with ``review = true`` (or *review* True) the file is staged: its
    effect is computed and shown to an admin, and nothing is written until it is
    published (``publish_staged``).

    Never raises for bad input: unreadable files, unknown formats and bad records all
    end in the result (and, once the bytes are kept, in an ``import_batch`` row).
    """
    display = name or path.name
    content_type = _sniff(path)
    if content_type is not None:
        return _import_document(
            store, settings, path, display_name(display), source, content_type
        )
    known = _known_bytes(store, settings, path, display, source, publishing)
    if known is not None:
        return known
    try:
        intake = take_in(path, settings.data_dir, name)
    except IntakeError as exc:
        event("import.unreadable", logging.WARNING, file=display, reason=str(exc))
        return ImportResult(
            file=display, sha256=None, adapter=None, status="rejected", reason=str(exc)
        )
    source_settings = settings.source(source)
    forced = adapter or (
        source_settings.adapter if source_settings.adapter != "auto" else None
    )
    base = {
        "source": source,
        "file_name": intake.name,
        "sha256": intake.sha256,
        "size": intake.size,
        "encoding": intake.encoding.codec,
        "stored_path": str(intake.stored_path),
        "mode": source_settings.mode,
    }
    result = ImportResult(
        file=intake.name, sha256=intake.sha256, adapter=None, status="applied"
    )

    with store.read() as conn:
        earlier = find_applied_batch(conn, intake.sha256, staged=not publishing)
    if earlier is not None:
        return _duplicate(store, base, result, earlier)

    head_text = decode_head(intake.head, intake.encoding)
    if documents.is_manifest(head_text):
        return _import_manifest(store, base, result, intake, source)
    try:
        head = Head(intake.name, intake.head, head_text)
        adapter_cls = get_adapter(forced) if forced else detect_adapter(head)
    except FileRejected as exc:
        return _rejected(store, base, result, str(exc))
    result.adapter = adapter_cls.name
    base["adapter"] = adapter_cls.name
    options = ParseOptions(
        date_order=source_settings.date_order or None,
        columns=source_settings.columns,
        default_currency=source_settings.currency or settings.default_currency,
    )
    export = ExportFile(
        path=intake.stored_path,
        name=intake.name,
        encoding=intake.encoding,
        size=intake.size,
        on_progress=(lambda n: on_progress(n, intake.size)) if on_progress else None,
    )
    started = utcnow()
    try:
        with store.write() as conn:
            earlier = find_applied_batch(conn, intake.sha256, staged=not publishing)
            if earlier is not None:
                # Another worker applied these bytes while this one was detecting.
                return _duplicate(store, base, result, earlier, conn=conn)
            batch_id = _record_batch(
                conn, **base, status="applying", started_at=started, finished_at=None
            )
            staging = source_settings.review if review is None else review
            run = _Run(
                conn,
                intake,
                source,
                source_settings.mode == "snapshot",
                options.default_currency,
                batch_id,
                diff=Diff() if staging or hold_namesakes else None,
                as_of=as_of,
            )
            run.take(adapter_cls().parse(export, options))
            tick = time.perf_counter()
            flagged = run.writer.finish(
                judge=lambda conn, ids: evaluate_marks(
                    conn, ids, batch_id, f"source:{source}"
                ),
                as_of=run.as_of,
            )
            result.phases = {**run.phases, "finish": time.perf_counter() - tick}
            counts = run.writer.counts
            result.created, result.updated, result.unchanged = (
                counts.created,
                counts.updated,
                counts.unchanged,
            )
            result.rejected = [_rejection_json(r) for r in run.rejections]
            result.warnings = run.warnings(flagged)
            namesakes = find_namesakes(conn, source, run.writer.accounts.created_names)
            if namesakes:
                result.warnings.insert(0, namesake_warning(namesakes))
                if run.writer.diff is not None:
                    run.writer.diff.note_namesakes(namesakes)
            result.batch_id = batch_id
            _save_row_errors(conn, batch_id, run.rejections)
            table = ImportBatch.__table__  # type: ignore[attr-defined]
            conn.execute(
                update(table)
                .where(table.c.id == batch_id)
                .values(
                    status="applied",
                    created=result.created,
                    updated=result.updated,
                    unchanged=result.unchanged,
                    rejected=len(run.rejections),
                    warnings=json.dumps(result.warnings),
                    as_of=run.as_of,
                    finished_at=utcnow(),
                )
            )
            if staging or (hold_namesakes and namesakes):
                raise _Staged(run)
            faults.hit("before_commit")
    except _Staged as staged:
        return _record_staged(store, base, result, staged.run, started)
    except FileRejected as exc:
        return _rejected(store, base, result, str(exc), started=started)
    except AdapterError as exc:  # an adapter's own error outside its contract
        return _rejected(
            store, base, result, f"could not read the file: {exc}", started=started
        )
    except StoreError as exc:
        return _failed(store, base, result, str(exc), started)
    except Exception as exc:
        event("import.crashed", logging.ERROR, file=intake.name, error=repr(exc))
        logging.getLogger("billfold").exception("import of %s failed", intake.name)
        return _failed(
            store,
            base,
            result,
            f"internal error: {exc.__class__.__name__}: {exc}",
            started,
        )
    event(
        "import.applied",
        file=intake.name,
        source=source,
        adapter=result.adapter,
        batch=result.batch_id,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        rejected=len(result.rejected),
    )
    _link_waiting_documents(store, settings)
    return result


def _known_bytes(
    store: Store,
    settings: Settings,
    path: Path,
    display: str,
    source: str,
    publishing: bool,
) -> ImportResult | None:
    """The duplicate fast path: bytes already applied cost one read to hash, no copy."""
    try:
        sha, size = hash_file(path)
    except OSError:
        return None  # take_in reports the unreadable file
    with store.read() as conn:
        earlier = find_applied_batch(conn, sha, staged=not publishing)
    if earlier is None:
        return None
    name = display_name(display)
    base = {
        "source": source,
        "file_name": name,
        "sha256": sha,
        "size": size,
        "stored_path": str(stored_path_for(settings.data_dir, sha)),
        "mode": settings.source(source).mode,
    }
    result = ImportResult(file=name, sha256=sha, adapter=None, status="applied")
    return _duplicate(store, base, result, earlier)


def _record_staged(
    store: Store,
    base: dict[str, Any],
    result: ImportResult,
    run: _Run,
    started: datetime,
) -> ImportResult:
    """Keep a staged batch's report (its writes were rolled back)."""
    result.status = "staged"
    with store.write(ledger=False) as conn:
        result.batch_id = _record_batch(
            conn,
            **base,
            status="staged",
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            rejected=len(run.rejections),
            warnings=json.dumps(result.warnings),
            as_of=run.as_of,
            started_at=started,
            diff=run.writer.diff.to_json() if run.writer.diff else None,
        )
        _save_row_errors(conn, result.batch_id, run.rejections)
    event(
        "import.staged",
        file=result.file,
        batch=result.batch_id,
        created=result.created,
        updated=result.updated,
    )
    return result


def _sniff(path: Path) -> str | None:
    """Return the content type of a document file (PDF, PNG, JPEG), else None."""
    try:
        with path.open("rb") as fh:
            return documents.sniff_content_type(fh.read(HEAD_BYTES))
    except OSError:
        return None  # intake reports why the file cannot be read


def _import_document(
    store: Store,
    settings: Settings,
    path: Path,
    name: str,
    source: str,
    content_type: str,
) -> ImportResult:
    """Store a PDF or image as a Document (one batch) and link it if anything says how."""
    try:
        stored = store_document_file(settings, path)
    except OSError as exc:
        reason = f"cannot read {path}: {exc.strerror or exc}"
        event("import.unreadable", logging.WARNING, file=name, reason=reason)
        return ImportResult(
            file=name, sha256=None, adapter=None, status="rejected", reason=reason
        )
    except Exception as exc:  # document storage (S3) unreachable: retry later
        reason = f"cannot store the document: {exc}"
        event("import.failed", logging.ERROR, file=name, reason=reason)
        return ImportResult(
            file=name, sha256=None, adapter="document", status="failed", reason=reason
        )
    content_type = documents.sniff_content_type(stored.head) or content_type
    base = {
        "source": source,
        "file_name": name,
        "sha256": stored.sha256,
        "size": stored.size,
        "adapter": "document",
        "stored_path": stored.storage_key,
        "mode": settings.source(source).mode,
    }
    result = ImportResult(
        file=name, sha256=stored.sha256, adapter="document", status="applied"
    )
    started = utcnow()
    try:
        with store.write() as conn:
            earlier = find_applied_batch(conn, stored.sha256)
            if earlier is not None:
                return _duplicate(store, base, result, earlier, conn=conn)
            batch_id = _record_batch(
                conn, **base, status="applying", started_at=started, finished_at=None
            )
            arrival = documents.add_document(
                conn,
                settings,
                source=source,
                batch_id=batch_id,
                name=name,
                sha256=stored.sha256,
                storage_key=stored.storage_key,
                size=stored.size,
                content_type=content_type,
            )
            result.created, result.batch_id = 1, batch_id
            if arrival.linked_to is None:
                result.warnings = [
                    f"not linked yet ({arrival.reason}); it waits in the list of "
                    "unmatched documents"
                ]
            table = ImportBatch.__table__  # type: ignore[attr-defined]
            conn.execute(
                update(table)
                .where(table.c.id == batch_id)
                .values(
                    status="applied",
                    created=1,
                    warnings=json.dumps(result.warnings),
                    finished_at=utcnow(),
                )
            )
            faults.hit("before_commit")
    except StoreError as exc:
        return _failed(store, base, result, str(exc), started)
    except Exception as exc:
        event("import.crashed", logging.ERROR, file=name, error=repr(exc))
        logging.getLogger("billfold").exception("import of %s failed", name)
        return _failed(
            store,
            base,
            result,
            f"internal error: {exc.__class__.__name__}: {exc}",
            started,
        )
    event(
        "import.document",
        file=name,
        source=source,
        batch=result.batch_id,
        document=arrival.document_id,
        linked_to=arrival.linked_to,
        waiting=arrival.reason,
    )
    return result


def publish_staged(
    store: Store, settings: Settings, batch_id: int, actor: str
) -> ImportResult:
    """Import a staged batch's kept original for real, then close the staged batch."""
    from sync.engine.review import mark_published, staged_batch

    with store.read() as conn:
        batch = staged_batch(conn, batch_id)
    result = import_file(
        store, settings, Path(batch.stored_path), source=batch.source, name=batch.file_name,
        adapter=batch.adapter, review=False, publishing=True, as_of=batch.as_of,
    )  # fmt: skip
    if result.ok:
        with store.write(ledger=False) as conn:
            mark_published(conn, batch_id, result.batch_id, actor)
    return result


def _import_manifest(
    store: Store,
    base: dict[str, Any],
    result: ImportResult,
    intake: Intake,
    source: str,
) -> ImportResult:
    """Record a documents manifest (one batch) and link the files it names."""
    result.adapter = base["adapter"] = "manifest"
    assert intake.encoding.codec is not None
    started = utcnow()
    try:
        text = intake.stored_path.read_text(encoding=intake.encoding.codec)
    except (OSError, UnicodeDecodeError) as exc:
        return _rejected(store, base, result, f"cannot read the manifest: {exc}")
    items = list(documents.read_manifest(text))
    rows = [i for i in items if isinstance(i, documents.ManifestRow)]
    rejections = [i for i in items if isinstance(i, Rejection)]
    try:
        with store.write() as conn:
            earlier = find_applied_batch(conn, intake.sha256)
            if earlier is not None:
                return _duplicate(store, base, result, earlier, conn=conn)
            batch_id = _record_batch(
                conn, **base, status="applying", started_at=started, finished_at=None
            )
            linked, waiting = documents.add_manifest(conn, source, batch_id, rows)
            result.created, result.batch_id = len(rows), batch_id
            result.rejected = [_rejection_json(r) for r in rejections]
            if waiting:
                result.warnings = [
                    f"{waiting} file(s) named here are not linked yet (the file, its "
                    "account or its record has not arrived); they will be linked "
                    "when it does"
                ]
            _save_row_errors(conn, batch_id, rejections)
            table = ImportBatch.__table__  # type: ignore[attr-defined]
            conn.execute(
                update(table)
                .where(table.c.id == batch_id)
                .values(
                    status="applied",
                    created=len(rows),
                    rejected=len(rejections),
                    warnings=json.dumps(result.warnings),
                    finished_at=utcnow(),
                )
            )
            faults.hit("before_commit")
    except StoreError as exc:
        return _failed(store, base, result, str(exc), started)
    except Exception as exc:
        event("import.crashed", logging.ERROR, file=intake.name, error=repr(exc))
        logging.getLogger("billfold").exception("import of %s failed", intake.name)
        return _failed(
            store,
            base,
            result,
            f"internal error: {exc.__class__.__name__}: {exc}",
            started,
        )
    event(
        "import.manifest",
        file=intake.name,
        source=source,
        batch=result.batch_id,
        rows=len(rows),
        linked=linked,
        waiting=waiting,
        rejected=len(rejections),
    )
    return result


def _link_waiting_documents(store: Store, settings: Settings) -> None:
    """Link documents that were waiting for records this import brought."""
    try:
        with store.write(ledger=False) as conn:
            linked = documents.link_waiting(conn, settings)
    except StoreError as exc:  # housekeeping tries again
        event("documents.link_failed", logging.WARNING, error=str(exc))
        return
    if linked:
        event("documents.linked", count=linked)


def _save_row_errors(
    conn: Connection, batch_id: int, rejections: list[Rejection]
) -> None:
    if not rejections:
        return
    table = RowError.__table__  # type: ignore[attr-defined]
    conn.execute(
        insert(table),
        [
            {
                "batch_id": batch_id,
                "line": r.line,
                "record": r.record,
                "column_name": r.column,
                "value": r.value,
                "reason": r.reason,
            }
            for r in rejections
        ],
    )


def _duplicate(
    store: Store,
    base: dict[str, Any],
    result: ImportResult,
    earlier: tuple[int, str | None],
    conn: Connection | None = None,
) -> ImportResult:
    batch, adapter = earlier
    result.status = "duplicate"
    result.adapter = adapter
    result.warnings = [
        f"the same bytes were already imported in batch {batch}; nothing changed"
    ]
    values = {
        **base,
        "status": "duplicate",
        "duplicate_of_id": batch,
        "adapter": adapter,
    }
    if conn is not None:
        result.batch_id = _record_batch(conn, **values)
    else:
        with store.write() as write:
            result.batch_id = _record_batch(write, **values)
    event("import.duplicate", file=result.file, of_batch=batch)
    return result


def _rejected(
    store: Store,
    base: dict[str, Any],
    result: ImportResult,
    reason: str,
    started: datetime | None = None,
) -> ImportResult:
    result.status = "rejected"
    result.reason = reason
    result.created = result.updated = result.unchanged = 0
    result.rejected, result.warnings = [], []
    with store.write() as conn:
        result.batch_id = _record_batch(
            conn,
            **base,
            status="rejected",
            reason=reason,
            started_at=started or utcnow(),
        )
    event("import.rejected", logging.WARNING, file=result.file, reason=reason)
    return result


def _failed(
    store: Store,
    base: dict[str, Any],
    result: ImportResult,
    reason: str,
    started: datetime,
) -> ImportResult:
    result.status = "failed"
    result.reason = reason
    result.created = result.updated = result.unchanged = 0
    result.rejected, result.warnings = [], []
    try:
        with store.write() as conn:
            result.batch_id = _record_batch(
                conn, **base, status="failed", reason=reason, started_at=started
            )
    except StoreError:
        # The store itself is what failed; the result still says why.
        pass
    event("import.failed", logging.ERROR, file=result.file, reason=reason)
    return result
