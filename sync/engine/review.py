"""The review gate: imports of a ``review = true`` source wait for an admin.

Staging runs the real pipeline inside a transaction, records what it *would* change
(new records, changed amounts, voids, records gone from a snapshot, customers billfold
has never seen), then rolls the transaction back: customers see nothing. Publishing
imports the kept original for real; discarding only marks the batch. Either way the
decision is audited.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from schemas.money import to_text
from schemas.tables import IMPORT_BATCHES, utcnow
from sync.errors import UsageError
from sync.store.audit import record
from sync.store.bulk import IN_CHUNK, chunked

SHOWN = 200  # entries kept per list; counts are always complete
B = IMPORT_BATCHES


@dataclass
class Diff:
    """What a staged batch would change."""

    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    voided: list[dict[str, Any]] = field(default_factory=list)
    disappeared: list[dict[str, Any]] = field(default_factory=list)
    new_customers: list[str] = field(default_factory=list)
    # New customers named like an account of another source: {"name", "sources"}.
    namesakes: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def _add(self, name: str, entry: Any) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        bucket = getattr(self, name)
        if len(bucket) < SHOWN:
            bucket.append(entry)

    def note_new(self, kind: str, values: dict[str, Any], account: str) -> None:
        """A record that does not exist yet."""
        self._add("new", _describe(kind, values, account))

    def note_update(
        self, kind: str, old: Any, values: dict[str, Any], account: str
    ) -> None:
        """A record that exists and would change."""
        total = "amount_minor" if kind == "payment" else "total_minor"
        entry = _describe(kind, values, account)
        if values.get("lifecycle") == "void" and old.lifecycle != "void":
            self._add("voided", entry)
            return
        before = (old.total, old.balance)
        after = (
            values.get(total),
            values.get("balance_minor", values.get("remaining_minor")),
        )
        if before != after:
            entry["before"] = {
                "total": to_text(old.total, values["currency"]),
                "balance": to_text(old.balance, values["currency"]),
            }
            self._add("changed", entry)
        else:
            self.counts["other_changes"] = self.counts.get("other_changes", 0) + 1

    def note_customer(self, name: str) -> None:
        """An account billfold has never seen (a new customer, or a misspelt one)."""
        self._add("new_customers", name)

    def note_namesakes(self, found: dict[str, list[str]]) -> None:
        """New customers whose names an account of another source bears too."""
        for name, sources in found.items():
            self._add("namesakes", {"name": name, "sources": sources})

    def note_gone(self, kind: str, number: str, account: str) -> None:
        """A record a snapshot no longer lists."""
        self._add("disappeared", {"kind": kind, "number": number, "account": account})

    def to_json(self) -> str:
        """The diff as stored on the batch."""
        return json.dumps(self.__dict__, default=str, sort_keys=True)


def _describe(kind: str, values: dict[str, Any], account: str) -> dict[str, Any]:
    total = values.get("amount_minor" if kind == "payment" else "total_minor")
    balance = values.get("balance_minor", values.get("remaining_minor"))
    currency = values["currency"]
    return {
        "kind": kind,
        "number": values.get("number")
        or values.get("reference")
        or values.get("external_id"),
        "account": account,
        "total": to_text(total, currency),
        "balance": to_text(balance, currency),
        "currency": currency,
    }


def old_figures(conn: Connection, table: Any, ids: Iterable[int]) -> dict[int, Any]:
    """The stored totals, balances and lifecycles of records about to change."""
    total = table.c.amount_minor if table.name == "payment" else table.c.total_minor
    if table.name == "invoice":
        balance = table.c.balance_minor
    elif table.name == "credit_note":
        balance = table.c.remaining_minor
    else:
        balance = table.c.unapplied_minor
    out = {}
    for chunk in chunked(sorted(ids), IN_CHUNK):
        for row in conn.execute(
            select(
                table.c.id,
                total.label("total"),
                balance.label("balance"),
                table.c.lifecycle,
            ).where(table.c.id.in_(bindparam("ids", expanding=True))),
            {"ids": list(chunk)},
        ):
            out[row.id] = row
    return out


def staged_batch(conn: Connection, batch_id: int) -> Any:
    """The staged batch *batch_id*, or UsageError."""
    row = conn.execute(select(B).where(B.c.id == batch_id)).first()
    if row is None or row.status != "staged":
        raise UsageError(f"import {batch_id} is not waiting for review")
    return row


def discard(conn: Connection, batch_id: int, actor: str) -> None:
    """Drop a staged batch: the store stays as it is (it never held the batch)."""
    staged_batch(conn, batch_id)
    conn.execute(
        update(B)
        .where(B.c.id == batch_id)
        .values(status="discarded", finished_at=utcnow())
    )
    record(
        conn, actor, "discard_import", record_kind="import_batch", record_id=batch_id
    )


def mark_published(
    conn: Connection, batch_id: int, applied_id: int | None, actor: str
) -> None:
    """Close a staged batch once its original was imported for real."""
    conn.execute(
        update(B)
        .where(B.c.id == batch_id)
        .values(status="published", published_batch_id=applied_id, finished_at=utcnow())
    )
    record(
        conn,
        actor,
        "publish_import",
        record_kind="import_batch",
        record_id=batch_id,
        applied=applied_id,
    )
