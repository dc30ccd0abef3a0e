"""An export's batch: parse, validate, reconcile and apply, chunk by chunk.

The handler ``export_handler`` runs inside the batch's transaction
(``sync.engine.batch``): it picks the adapter (forced, or detected from the file's
first bytes), streams the adapter's items (parsed before the transaction began, for an
export of up to ``PARSE_AHEAD`` bytes) through ``validate``, groups records into
chunks of ``CHUNK_RECORDS``, reconciles each chunk against the store and applies it
with set-based writes (``sync.engine.apply``). At the end of the file the writer
resolves allocations, lets the paid marks judge the feed (``sync.ledger.marks``),
refreshes derived figures (``sync.ledger.figures``) and flags what a snapshot no
longer holds. A file from a ``review = true`` source, or an upload that creates
namesakes of another source's customers, asks to be staged instead of applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

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

CHUNK_RECORDS = 2000
# Exports up to this size are parsed before the batch's transaction (``_ParsedAhead``);
# larger ones stream through it chunk by chunk, in bounded memory.
PARSE_AHEAD = 4 << 20
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
    ahead = _ParsedAhead(pick, export, options) if intake.size <= PARSE_AHEAD else None

    def handle(conn: Connection, batch_id: int, result: ImportResult) -> Done:
        adapter_cls = (ahead and ahead.adapter) or pick()
        result.adapter = adapter_cls.name
        staging = source_settings.review if review is None else review
        run = ExportRun(
            conn,
            intake,
            source,
            source_settings.mode == "snapshot",
            options.default_currency,
            batch_id,
            diff=Diff() if staging or hold_namesakes else None,
            as_of=as_of,
        )
        run.take(ahead.items() if ahead else adapter_cls().parse(export, options))
        tick = time.perf_counter()
        flagged = run.writer.finish(as_of=run.as_of)
        phases = {**run.phases, "finish": time.perf_counter() - tick}
        if ahead is not None:
            phases["parse"] += ahead.seconds
        counts = run.writer.counts
        warnings = run.warnings(flagged)
        namesakes = find_namesakes(conn, source, run.writer.accounts.created_names)
        if namesakes:
            warnings.insert(0, namesake_warning(namesakes))
            if run.writer.diff is not None:
                run.writer.diff.note_namesakes(namesakes)
        return Done(
            created=counts.created, updated=counts.updated, unchanged=counts.unchanged,
            rejections=run.rejections, warnings=warnings, as_of=run.as_of,
            stage=bool(staging or (hold_namesakes and namesakes)),
            diff=run.writer.diff, brought_records=True, phases=phases,
            log={"adapter": adapter_cls.name, "batch": batch_id,
                 "created": counts.created, "updated": counts.updated,
                 "unchanged": counts.unchanged, "rejected": len(run.rejections)},
        )  # fmt: skip

    return handle


class _ParsedAhead:
    """An export parsed before its batch's transaction begins.

    The transaction holds the ledger lock (one writer at a time), so what needs no
    store is done first: workers importing different files of one source at once then
    overlap their parsing. Whatever the adapter raised is raised again inside the
    transaction (``items``), so the batch ends exactly as when parsed in it.
    """

    def __init__(
        self, pick: Callable[[], type[Any]], export: ExportFile, options: ParseOptions
    ) -> None:
        tick = time.perf_counter()
        self.adapter: type[Any] | None = None
        self.parsed: list[Any] = []
        self.error: Exception | None = None
        try:
            self.adapter = pick()
            self.parsed = list(self.adapter().parse(export, options))
        except Exception as exc:  # raised again where the batch decides its outcome
            self.error = exc
        self.seconds = time.perf_counter() - tick  # not money

    def items(self) -> list[Any]:
        if self.error is not None:
            raise self.error
        return self.parsed


class ExportRun:
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
        self.attachments: list[AttachmentRecord] = []
        self.deletions: list[Deletion] = []  # records the source says it deleted
        self.not_stored: list[Deletion] = []  # ... of which billfold kept no copy
        self.columns: dict[str, str] | None = None  # the export's names for fields
        self.older_example: str | None = None
        self.phases = dict.fromkeys(("parse", "validate", "reconcile", "apply"), 0.0)

    def take(self, items: Iterable[Any]) -> None:
        seen_record = False
        clock = time.perf_counter
        started = clock()
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
            elif isinstance(item, Deletion):
                seen_record = True
                self.deletions.append(item)
                if len(self.deletions) >= CHUNK_RECORDS:
                    self.flush()
            elif isinstance(item, AttachmentRecord):
                refused = check_attachment(item)
                if refused is None:
                    self.attachments.append(item)
                else:
                    self.rejections.append(refused)
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
            self.rejections.append(refused)

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
