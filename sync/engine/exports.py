"""An export's batch: read and validate first, then reconcile and apply under the lock.

``export_handler`` does the store-free work as soon as it is called, before the batch's
transaction begins: it picks the adapter (forced, or detected from the file's first
bytes), parses the file and validates every record (``_ReadAhead``), grouping records
into chunks of ``CHUNK_RECORDS``. An export larger than ``SPOOL_IN_MEMORY`` bytes keeps
its validated chunks in a private temporary file (``_Spool``), so memory stays flat
whatever the size. Nothing of this takes a lock: on SQLite a sign-in or a page view
never waits behind the parse.

The handler it returns runs inside the batch's transaction (``sync.engine.batch``),
which holds the ledger lock: it replays the chunks, reconciles each against the store
as it is now and applies it with set-based writes (``sync.engine.apply``). Reconcile
stays under the lock on purpose: it reads what earlier chunks of the same file wrote
(accounts, repeated records), and read under the lock it is always the current
store's, so a paid mark or another import committed while this file was being parsed
is seen, never overwritten by a stale decision. At the end of the file the writer
resolves allocations, lets the paid marks judge the feed (``sync.ledger.marks``),
refreshes derived figures (``sync.ledger.figures``) and flags what a snapshot no
longer holds. A file from a ``review = true`` source, or an upload that creates
namesakes of another source's customers, asks to be staged instead of applied.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection

from adapters.base import ExportFile, Head, ParseOptions
from adapters.registry import detect_adapter, get_adapter
from adapters.toolkit.text import decode_head
from schemas.limits import clip
from schemas.records import (
    AccountRecord,
    AttachmentRecord,
    Deletion,
    DocumentRecord,
    ExportInfo,
    Note,
    PaymentRecord,
    Rejection,
)
from sync import faults
from sync.config import Settings
from sync.engine.allocations import reject_crossing
from sync.engine.apply import BatchWriter
from sync.engine.attachments import check_attachment, write_attachments
from sync.engine.batch import Done, Handler, ImportResult
from sync.engine.former_ids import adopt_former_ids
from sync.engine.intake import Intake
from sync.engine.namesakes import find_namesakes, namesake_warning
from sync.engine.reconcile import reconcile
from sync.engine.review import Diff
from sync.engine.validate import (
    Prepared,
    bounded,
    check_account,
    prepare,
    refuse_bad_email,
)
from sync.store.permissions import private_dir

CHUNK_RECORDS = 2000
# Exports up to this size keep their validated chunks in memory until the batch's
# transaction replays them; larger ones spool them to a private temporary file.
SPOOL_IN_MEMORY = 4 << 20
NOTE_CHARACTERS = 1000  # a warning quotes cells; a hostile one could be megabytes
MAX_WARNINGS = 50
KIND_ORDER = ("invoice", "credit_note", "payment")


def export_handler(
    settings: Settings,
    intake: Intake,
    source: str,
    *,
    adapter: str | None = None,
    review: bool | None = None,
    hold_namesakes: bool = False,
    as_of: datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Handler:
    """Return the batch handler that applies the export *intake* (see the docstring)."""
    source_settings = settings.source(source)
    forced = adapter or (
        source_settings.adapter if source_settings.adapter != "auto" else None
    )

    def pick() -> type[Any]:
        head = Head(
            intake.name,
            intake.head,
            decode_head(intake.head, intake.encoding),
            source_settings.columns,
        )
        return get_adapter(forced) if forced else detect_adapter(head)

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
    ahead = _ReadAhead(
        pick, export, options, source=source,
        default_currency=options.default_currency, as_of=as_of or intake.mtime,
        spool_dir=settings.data_dir if intake.size > SPOOL_IN_MEMORY else None,
    )  # fmt: skip

    def handle(conn: Connection, batch_id: int, result: ImportResult) -> Done:
        adapter_cls = ahead.adapter or pick()
        result.adapter = adapter_cls.name
        staging = source_settings.review if review is None else review
        run = ExportRun(
            conn,
            source,
            source_settings.mode == "snapshot",
            batch_id,
            diff=Diff() if staging or hold_namesakes else None,
            as_of=ahead.as_of,
        )
        for chunk in ahead.chunks():
            run.apply_chunk(chunk)
        tick = time.perf_counter()
        flagged = run.writer.finish(as_of=ahead.as_of)
        phases = {
            "parse": ahead.parse_seconds, "validate": ahead.validate_seconds,
            **run.phases, "finish": time.perf_counter() - tick,
        }  # fmt: skip
        counts = run.writer.counts
        warnings = run.warnings(ahead.notes, flagged)
        namesakes = find_namesakes(conn, source, run.writer.accounts.created_names)
        if namesakes:
            warnings.insert(0, namesake_warning(namesakes))
            if run.writer.diff is not None:
                run.writer.diff.note_namesakes(namesakes)
        return Done(
            created=counts.created, updated=counts.updated, unchanged=counts.unchanged,
            rejections=run.rejections, warnings=warnings, as_of=ahead.as_of,
            stage=bool(staging or (hold_namesakes and namesakes)),
            diff=run.writer.diff, brought_records=True, phases=phases,
            log={"adapter": adapter_cls.name, "batch": batch_id,
                 "created": counts.created, "updated": counts.updated,
                 "unchanged": counts.unchanged, "rejected": len(run.rejections)},
        )  # fmt: skip

    return handle


@dataclass
class Chunk:
    """Validated records ready to reconcile, in the order the file gave them."""

    rejections: list[Rejection]  # found by validation since the previous chunk
    accounts: list[AccountRecord]
    pending: list[Prepared]
    attachments: list[AttachmentRecord]
    deletions: list[Deletion]  # records the source says it deleted


class _Spool:
    """Validated chunks kept until the transaction replays them: in memory, or pickled
    to a private temporary file in *folder* (deleted when closed) for a large export."""

    def __init__(self, folder: Path | None) -> None:
        self.kept: list[Chunk] = []
        self.file: IO[bytes] | None = None
        if folder is not None:
            private_dir(folder)
            # Closed by ``replay`` or ``close``; unlinked from the start (no name).
            self.file = tempfile.TemporaryFile(dir=folder, prefix=".spool-")  # noqa: SIM115

    def add(self, chunk: Chunk) -> None:
        if self.file is None:
            self.kept.append(chunk)
        else:
            pickle.dump(chunk, self.file, protocol=pickle.HIGHEST_PROTOCOL)

    def replay(self) -> Iterator[Chunk]:
        """Yield the chunks once, in order, then close the spool."""
        try:
            if self.file is None:
                yield from self.kept
                return
            self.file.flush()
            self.file.seek(0)
            while True:
                try:
                    # Our own file, written by this process a moment ago (0600 folder).
                    chunk = pickle.load(self.file)  # noqa: S301
                except EOFError:
                    return
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.kept = []
        if self.file is not None:
            self.file.close()
            self.file = None


class _ReadAhead:
    """An export parsed and validated before its batch's transaction begins.

    The transaction holds the write lock (on SQLite, the only one there is), so what
    needs no store is done first: a sign-in waits for no parse, and workers importing
    several files at once overlap their parsing. Whatever the adapter raised is raised
    again inside the transaction (``chunks``), so the batch ends exactly as when parsed
    in it.
    """

    def __init__(
        self,
        pick: Callable[[], type[Any]],
        export: ExportFile,
        options: ParseOptions,
        *,
        source: str,
        default_currency: str,
        as_of: datetime | None,
        spool_dir: Path | None,
    ) -> None:
        clock = time.perf_counter
        started = clock()
        self.source = source
        self.default_currency = default_currency
        self.as_of = as_of
        self.adapter: type[Any] | None = None
        self.error: Exception | None = None
        self.columns: dict[str, str] | None = None  # the export's names for fields
        self.notes: list[str] = []
        self.validate_seconds = 0.0  # not money
        self._spool = _Spool(spool_dir)
        self._next = Chunk([], [], [], [], [])
        try:
            self.adapter = pick()
            self._take(self.adapter().parse(export, options))
        except Exception as exc:  # raised again where the batch decides its outcome
            self.error = exc
            self._spool.close()
        self.parse_seconds = clock() - started - self.validate_seconds  # not money

    def chunks(self) -> Iterator[Chunk]:
        """Yield the validated chunks (raising first what the reading raised)."""
        if self.error is not None:
            raise self.error
        return self._spool.replay()

    def _cut(self) -> None:
        self._spool.add(self._next)
        self._next = Chunk([], [], [], [], [])

    def _take(self, items: Iterable[Any]) -> None:
        seen_record = False
        clock = time.perf_counter
        chunk = self._next
        for item in items:
            if isinstance(item, AccountRecord | DocumentRecord | PaymentRecord):
                self._check_email(item)
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
                self.validate_seconds += clock() - tick
                if isinstance(prepared, Rejection):
                    chunk.rejections.append(prepared)
                else:
                    chunk.pending.append(prepared)
                    if len(chunk.pending) >= CHUNK_RECORDS:
                        self._cut()
                        chunk = self._next
            elif isinstance(item, Deletion):
                seen_record = True
                chunk.deletions.append(item)
                if len(chunk.deletions) >= CHUNK_RECORDS:
                    self._cut()
                    chunk = self._next
            elif isinstance(item, AccountRecord):
                too_long = check_account(item, None, self.columns)
                if too_long is None:
                    chunk.accounts.append(item)
                else:
                    chunk.rejections.append(too_long)
            elif isinstance(item, AttachmentRecord):
                refused = check_attachment(item)
                if refused is None:
                    chunk.attachments.append(item)
                else:
                    chunk.rejections.append(refused)
            elif isinstance(item, Rejection):
                chunk.rejections.append(bounded(item))
            elif isinstance(item, Note):
                where = f"line {item.line}: " if item.line else ""
                self.notes.append(clip(where + item.message, NOTE_CHARACTERS))
            elif isinstance(item, ExportInfo):
                self.columns = {**(self.columns or {}), **(item.columns or {})}
                if item.as_of and not seen_record:
                    self.as_of = item.as_of
        self._cut()

    def _check_email(
        self, item: AccountRecord | DocumentRecord | PaymentRecord
    ) -> None:
        account = item if isinstance(item, AccountRecord) else item.account
        label = (
            f"customer {account.name or account.key}"
            if isinstance(item, AccountRecord)
            else item.label
        )
        line = None if isinstance(item, AccountRecord) else item.line
        refused = refuse_bad_email(account, label, line, self.columns)
        if refused is not None:
            self._next.rejections.append(refused)


class ExportRun:
    """One file's validated chunks reconciled and applied, inside the batch's lock."""

    def __init__(
        self,
        conn: Connection,
        source: str,
        snapshot: bool,
        batch_id: int,
        diff: Diff | None = None,
        as_of: datetime | None = None,
    ) -> None:
        self.conn = conn
        self.as_of = as_of
        self.source = source
        self.batch_id = batch_id
        self.writer = BatchWriter(
            conn, source=source, batch_id=batch_id, snapshot=snapshot, diff=diff
        )
        self.rejections: list[Rejection] = []
        self.pending: list[Prepared] = []
        self.accounts: list[AccountRecord] = []
        self.attachments: list[AttachmentRecord] = []
        self.deletions: list[Deletion] = []
        self.not_stored: list[Deletion] = []  # deletions of what billfold never kept
        self.older_example: str | None = None
        self.phases = dict.fromkeys(("reconcile", "apply"), 0.0)

    def apply_chunk(self, chunk: Chunk) -> None:
        """Reconcile and write one chunk (its validation rejections first, in order)."""
        self.rejections += chunk.rejections
        self.accounts, self.pending = chunk.accounts, chunk.pending
        self.attachments = chunk.attachments
        self.deletions = chunk.deletions
        self.flush()

    def flush(self) -> None:
        clock = time.perf_counter
        writer = self.writer
        tick = clock()
        writer.ensure_accounts([*self.accounts, *(p.account for p in self.pending)])
        self.accounts = []
        self.phases["apply"] += clock() - tick
        for kind in KIND_ORDER:
            records = [p for p in self.pending if p.kind == kind]
            deletions = [d for d in self.deletions if d.kind == kind]
            if not records and not deletions:
                continue
            tick = clock()
            adopt_former_ids(self.conn, self.source, kind, records, writer.account_ids)
            if kind != "invoice":
                records, crossing = reject_crossing(
                    self.conn, self.source, records, writer.account_ids
                )
                self.rejections += crossing
            if deletions:
                copies, missing = writer.deleted_copies(kind, deletions, self.as_of)
                records += copies
                self.not_stored += missing
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
        self.deletions = []
        if self.attachments:
            tick = clock()
            write_attachments(self.conn, self.source, self.batch_id, self.attachments)
            self.attachments = []
            self.phases["apply"] += clock() - tick
        faults.hit("chunk")

    def warnings(self, notes: list[str], flagged: int) -> list[str]:
        counts = self.writer.counts
        found = [*self.writer.held, *notes, *self.writer.warnings]
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
        if self.not_stored:
            found.append(
                f"{len(self.not_stored)} deleted record(s) in this file were never "
                f"imported (e.g. {self.not_stored[0].label}); there was nothing to "
                "delete"
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
