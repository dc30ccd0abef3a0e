"""Reconcile: decide what an import changes. A pure function: no I/O, no clock.

Given validated incoming records and what the store holds for the same keys,
``reconcile`` returns a ``Plan``: records to insert, to update, left unchanged, skipped
because the store already has a newer version, repeated within the file, or in conflict
with an earlier copy in the same file. Running the same records twice plans nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sync.engine.validate import Prepared


@dataclass(frozen=True, slots=True)
class Stored:
    """What the store holds for one record key."""

    id: int
    content_hash: str
    updated_at: datetime | None
    version: int | None
    last_batch_id: int | None
    total_minor: int | None = None


@dataclass(slots=True)
class Plan:
    """What one chunk of an import will do to the store."""

    inserts: list[Prepared] = field(default_factory=list)
    updates: list[tuple[int, Prepared]] = field(default_factory=list)
    unchanged: list[Prepared] = field(default_factory=list)
    older: list[tuple[Prepared, Stored]] = field(default_factory=list)
    duplicates: list[Prepared] = field(default_factory=list)
    superseded: list[Prepared] = field(default_factory=list)
    conflicts: list[tuple[Prepared, str]] = field(default_factory=list)


def is_older(incoming: Prepared, stored: Stored) -> bool:
    """True when the store's version of a record is newer than *incoming*.

    The source's own version counter wins (QuickBooks SyncToken), then its updated-at
    time (or the export's as-of time when records carry none). Equal times are not
    older: a re-export at the same moment may still correct a record.
    """
    if (
        incoming.version is not None
        and stored.version is not None
        and incoming.version != stored.version
    ):
        return incoming.version < stored.version
    if incoming.updated_at is not None and stored.updated_at is not None:
        return incoming.updated_at < stored.updated_at
    return False


def _keep_void_total(incoming: Prepared, stored: Stored) -> None:
    """A void that zeroes the amounts (QuickBooks) keeps the total the store already had."""
    values = incoming.values
    if (
        values.get("lifecycle") == "void"
        and values.get("total_minor") == 0
        and stored.total_minor
    ):
        values["total_minor"] = stored.total_minor


def reconcile(
    incoming: Sequence[Prepared],
    stored: Mapping[str, Stored],
    batch_id: int,
) -> Plan:
    """Return the plan that brings the store up to date with *incoming*.

    *stored* maps record keys to what the store holds; a stored record whose
    ``last_batch_id`` is *batch_id* was written earlier in the same file.
    """
    plan = Plan()
    planned: dict[str, Prepared] = {}
    for record in incoming:
        earlier = planned.get(record.key)
        if earlier is not None:
            _repeat_in_chunk(plan, earlier, record, planned)
            continue
        existing = stored.get(record.key)
        if existing is None:
            plan.inserts.append(record)
            planned[record.key] = record
            continue
        if existing.last_batch_id == batch_id:
            _repeat_across_chunks(plan, existing, record, planned)
            continue
        if existing.content_hash == record.content_hash:
            plan.unchanged.append(record)
        elif is_older(record, existing):
            plan.older.append((record, existing))
        else:
            _keep_void_total(record, existing)
            plan.updates.append((existing.id, record))
            planned[record.key] = record
    return plan


def _newer_copy(a: Prepared, b: Prepared) -> bool | None:
    """True if *b* is a newer version than *a*, False if older, None if it cannot say."""
    if a.version is not None and b.version is not None and a.version != b.version:
        return b.version > a.version
    if (
        a.updated_at is not None
        and b.updated_at is not None
        and a.updated_at != b.updated_at
    ):
        return b.updated_at > a.updated_at
    return None


def _conflict_reason(first: Prepared) -> str:
    where = f" on line {first.line}" if first.line else ""
    return (
        f"{first.label} appears twice in this file with different content (first{where}) "
        "and nothing says which copy is newer; list each document once (in a "
        "one-row-per-line file, keep a document's rows together)"
    )


def _repeat_in_chunk(
    plan: Plan, earlier: Prepared, record: Prepared, planned: dict[str, Prepared]
) -> None:
    if earlier.content_hash == record.content_hash:
        plan.duplicates.append(record)
        return
    newer = _newer_copy(earlier, record)
    if newer is None:
        plan.conflicts.append((record, _conflict_reason(earlier)))
    elif newer:
        # Replace the earlier copy in whichever list holds it.
        for i, candidate in enumerate(plan.inserts):
            if candidate is earlier:
                plan.inserts[i] = record
        for i, (row_id, candidate) in enumerate(plan.updates):
            if candidate is earlier:
                plan.updates[i] = (row_id, record)
        planned[record.key] = record
        plan.superseded.append(earlier)
    else:
        plan.superseded.append(record)


def _repeat_across_chunks(
    plan: Plan, existing: Stored, record: Prepared, planned: dict[str, Prepared]
) -> None:
    if existing.content_hash == record.content_hash:
        plan.duplicates.append(record)
        return
    stored_copy = Prepared(
        kind=record.kind,
        key=record.key,
        account=record.account,
        values={},
        content_hash=existing.content_hash,
        updated_at=existing.updated_at,
        version=existing.version,
        label=record.label,
        line=None,
    )
    newer = _newer_copy(stored_copy, record)
    if newer is None:
        plan.conflicts.append(
            (
                record,
                f"{record.label} appears twice in this file with different content "
                "and nothing says which copy is newer; list each document once (in a "
                "one-row-per-line file, keep a document's rows together)",
            )
        )
    elif newer:
        plan.updates.append((existing.id, record))
        planned[record.key] = record
        plan.superseded.append(stored_copy)
    else:
        plan.superseded.append(record)
