"""The batch: one file's trip into the store, opened, decided and closed in one place.

Every import is one ``import_batch`` row, and ``run_batch`` is where its transaction
begins and ends. Inside ONE write transaction it

1. looks for an earlier applied (or staged) batch of the same bytes: if there is one,
   the file is a ``duplicate``, recorded in this same transaction, and nothing else
   happens;
2. inserts the batch row (``applying``);
3. runs the handler (an export, a document or a manifest: ``sync.engine.exports``,
   ``sync.engine.documents``), which writes what the file says and returns ``Done``;
4. keeps the rejected records (``row_error``), finishes the row (``applied``, counts,
   warnings) and, after an export, links the documents that were waiting for its
   records;
5. commits. A crash anywhere before the commit leaves the store as it was.

The outcome is decided once, here: ``applied`` or ``duplicate`` from the transaction;
``staged`` (the handler asked for review: its writes roll back), ``rejected`` (the file
as a whole cannot be read: ``FileRejected``) or ``failed`` (the store failed, or
anything unexpected) each end the transaction and are recorded by the same code path
(``_record_outcome``) in one follow-up transaction, with the staged batch's report and
diff, or the reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from adapters.errors import AdapterError, FileRejected
from schemas.records import Rejection
from schemas.tables import IMPORT_BATCHES, ROW_ERRORS, utcnow
from sync import faults
from sync.config import Settings
from sync.engine.documents.links import link_waiting
from sync.engine.review import Diff
from sync.errors import StoreError
from sync.log import event
from sync.store import Store

B = IMPORT_BATCHES
RE = ROW_ERRORS


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


@dataclass
class Done:
    """What a handler did inside the batch's transaction."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    as_of: datetime | None = None
    stage: bool = False  # roll the writes back and keep the batch for review
    diff: Diff | None = None  # what a staged batch would change
    brought_records: bool = False  # documents waiting for records may link now
    phases: dict[str, float] = field(default_factory=dict)
    logged: str = "import.applied"  # the event that reports the applied batch
    log: dict[str, Any] = field(default_factory=dict)  # and its fields


class _Staged(Exception):
    """Raised inside the batch's transaction to roll a staged batch back."""

    def __init__(self, done: Done) -> None:
        super().__init__("staged")
        self.done = done


Handler = Callable[[Connection, int, "ImportResult"], Done]


def find_applied_batch(
    conn: Connection, sha256: str, *, staged: bool = True
) -> tuple[int, str | None] | None:
    """Return (id, adapter) of an applied (or, with *staged*, staged) batch of these bytes."""
    statuses = ("applied", "staged") if staged else ("applied",)
    row = conn.execute(
        select(B.c.id, B.c.adapter)
        .where(B.c.sha256 == sha256, B.c.status.in_(statuses))
        .order_by(B.c.id)
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def rejection_json(r: Rejection) -> dict[str, Any]:
    """Return a rejected record as the JSON result lists it."""
    return {
        "line": r.line,
        "record": r.record,
        "column": r.column,
        "value": r.value,
        "reason": r.reason,
    }


def run_batch(
    store: Store,
    settings: Settings,
    values: dict[str, Any],
    handler: Handler,
    *,
    publishing: bool = False,
) -> ImportResult:
    """Open a batch for the file *values* describe, run *handler* in it, decide, close.

    *values* are the batch row's columns (source, file_name, sha256, size, …). With
    *publishing* (a staged batch published for real) an earlier staged batch of the
    same bytes is not a duplicate.
    """
    result = ImportResult(
        file=values["file_name"],
        sha256=values["sha256"],
        adapter=values.get("adapter"),
        status="applied",
    )
    started = utcnow()
    try:
        with store.write() as conn:
            earlier = find_applied_batch(conn, values["sha256"], staged=not publishing)
            if earlier is not None:
                return record_duplicate(conn, values, result, earlier)
            batch_id = _insert_batch(
                conn, **values, status="applying", started_at=started, finished_at=None
            )
            # The handler sets result.adapter as soon as it knows it (a rejected
            # file's row names the adapter that rejected it).
            done = handler(conn, batch_id, result)
            _report(result, done, batch_id)
            _save_row_errors(conn, batch_id, done.rejections)
            conn.execute(
                update(B)
                .where(B.c.id == batch_id)
                .values(
                    adapter=result.adapter,
                    status="applied",
                    created=done.created,
                    updated=done.updated,
                    unchanged=done.unchanged,
                    rejected=len(done.rejections),
                    warnings=json.dumps(result.warnings),
                    as_of=done.as_of,
                    finished_at=utcnow(),
                )
            )
            if done.stage:
                raise _Staged(done)
            if done.brought_records:
                link_waiting_documents(conn, settings)
            faults.hit("before_commit")
    except _Staged as staged:
        return _record_outcome(store, values, result, "staged", started, staged.done)
    except FileRejected as exc:
        return _record_outcome(
            store, values, result, "rejected", started, reason=str(exc)
        )
    except AdapterError as exc:  # an adapter's own error outside its contract
        reason = f"could not read the file: {exc}"
        return _record_outcome(
            store, values, result, "rejected", started, reason=reason
        )
    except StoreError as exc:
        return _record_outcome(
            store, values, result, "failed", started, reason=str(exc)
        )
    except Exception as exc:
        event("import.crashed", logging.ERROR, file=result.file, error=repr(exc))
        logging.getLogger("billfold").exception("import of %s failed", result.file)
        reason = f"internal error: {exc.__class__.__name__}: {exc}"
        return _record_outcome(store, values, result, "failed", started, reason=reason)
    event(done.logged, file=result.file, source=values["source"], **done.log)
    return result


def link_waiting_documents(conn: Connection, settings: Settings) -> None:
    """Link documents that were waiting for records this batch brought."""
    linked = link_waiting(conn, settings)
    if linked:
        event("documents.linked", count=linked)


def record_duplicate(
    conn: Connection,
    values: dict[str, Any],
    result: ImportResult,
    earlier: tuple[int, str | None],
) -> ImportResult:
    """Record the file as a duplicate of batch *earlier* (in the caller's transaction)."""
    batch, adapter = earlier
    result.status = "duplicate"
    result.adapter = adapter
    result.warnings = [
        f"the same bytes were already imported in batch {batch}; nothing changed"
    ]
    result.batch_id = _insert_batch(
        conn,
        **{**values, "adapter": adapter},
        status="duplicate",
        duplicate_of_id=batch,
    )
    event("import.duplicate", file=result.file, of_batch=batch)
    return result


def _report(result: ImportResult, done: Done, batch_id: int) -> None:
    result.batch_id = batch_id
    result.created, result.updated = done.created, done.updated
    result.unchanged = done.unchanged
    result.rejected = [rejection_json(r) for r in done.rejections]
    result.warnings = done.warnings
    result.phases = done.phases


def _record_outcome(
    store: Store,
    values: dict[str, Any],
    result: ImportResult,
    status: str,
    started: datetime,
    done: Done | None = None,
    *,
    reason: str | None = None,
) -> ImportResult:
    """Record a staged, rejected or failed batch in one follow-up transaction."""
    result.status, result.reason = status, reason
    row: dict[str, Any] = {
        **values,
        "adapter": result.adapter,
        "status": status,
        "started_at": started,
    }
    if status == "staged":
        assert done is not None
        row.update(
            created=result.created, updated=result.updated, unchanged=result.unchanged,
            rejected=len(done.rejections), warnings=json.dumps(result.warnings),
            as_of=done.as_of, diff=done.diff.to_json() if done.diff else None,
        )  # fmt: skip
    else:
        result.created = result.updated = result.unchanged = 0
        result.rejected, result.warnings = [], []
        row["reason"] = reason
    try:
        with store.write(ledger=status != "staged") as conn:
            result.batch_id = _insert_batch(conn, **row)
            if done is not None:
                _save_row_errors(conn, result.batch_id, done.rejections)
    except StoreError:
        if status != "failed":
            raise
        result.batch_id = None  # the store itself is what failed; the result says why
    if status == "staged":
        event(
            "import.staged", file=result.file, batch=result.batch_id,
            created=result.created, updated=result.updated,
        )  # fmt: skip
    elif status == "rejected":
        event("import.rejected", logging.WARNING, file=result.file, reason=reason)
    else:
        event("import.failed", logging.ERROR, file=result.file, reason=reason)
    return result


def _insert_batch(conn: Connection, **values: Any) -> int:
    values.setdefault("started_at", utcnow())
    values.setdefault("finished_at", utcnow())
    return conn.execute(insert(B).values(**values).returning(B.c.id)).scalar_one()


def _save_row_errors(
    conn: Connection, batch_id: int, rejections: list[Rejection]
) -> None:
    if not rejections:
        return
    conn.execute(
        insert(RE),
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
