"""Accounts on import: create or update the customers a file names, parents first.

One ``AccountWriter`` lives for one batch, inside its transaction. It remembers every
account the import read or wrote (so a customer named on every row is read once),
records the names each customer id carried (``sync.ledger.identity`` holds an account
whose id carried several) and notes new customers in a staged batch's diff.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from schemas.records import AccountRecord
from schemas.tables import ACCOUNTS, utcnow
from sync.engine.review import Diff
from sync.ledger.identity import NameCheck
from sync.store.bulk import (
    PlannerStatistics,
    allocate_ids,
    insert_rows,
    select_in,
    update_rows,
)


class AccountWriter:
    """Upserts one batch's accounts; every method runs inside the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        *,
        source: str,
        batch_id: int,
        statistics: PlannerStatistics,
        diff: Diff | None = None,
    ) -> None:
        self.conn = conn
        self.source = source
        self.batch_id = batch_id
        self.statistics = statistics
        self.diff = diff
        self.ids: dict[str, int] = {}  # external key -> account id
        # (id, key, name, email, parent_id) of every account this import read or wrote.
        self.known: dict[str, tuple[Any, ...]] = {}
        self.created_names: list[str] = []  # names of the accounts this import created
        self.names = NameCheck()  # the names each customer id carried

    def ensure(self, records: Iterable[AccountRecord]) -> None:
        """Create or update the accounts *records* name (parents before their sites).

        Accounts named only as someone's parent are created if missing but never
        renamed by that mention.
        """
        incoming: dict[str, AccountRecord] = {}
        implicit: dict[str, AccountRecord] = {}
        for record in records:
            self.names.saw(record.key, record.name)
            if record.parent_key:
                self.names.saw(record.parent_key, record.parent_name)
            if record.key not in incoming and self._as_known(record):
                continue
            if record.parent_key:
                implicit.setdefault(
                    record.parent_key,
                    AccountRecord(
                        key=record.parent_key,
                        name=record.parent_name or record.parent_key,
                    ),
                )
            current = incoming.get(record.key)
            if current is not None and not record.email and current.email:
                # The later mention wins (names change); a blank email keeps the known one.
                record = AccountRecord(
                    record.key,
                    record.name,
                    current.email,
                    record.parent_key or current.parent_key,
                    record.parent_name or current.parent_name,
                )
            incoming[record.key] = record
        implicit = {
            k: r for k, r in implicit.items() if k not in incoming and k not in self.ids
        }
        table = ACCOUNTS
        keys = [*implicit, *incoming]
        # Accounts this import already read or wrote are known; only the rest are read.
        existing = {k: self.known[k] for k in keys if k in self.known}
        for row in select_in(
            self.conn,
            table,
            ("id", "external_key", "name", "email", "parent_id"),
            "external_key",
            [k for k in keys if k not in existing],
            source=self.source,
        ):
            existing[row[1]] = self.known[row[1]] = tuple(row)
            self.names.saw(row[1], row[2], stored=True)
        for key, row in existing.items():
            self.ids[key] = row[0]
        # Insert parents before their sites, level by level (QuickBooks names nest).
        new = [
            r for k, r in (*implicit.items(), *incoming.items()) if k not in existing
        ]
        while new:
            ready = [r for r in new if not r.parent_key or r.parent_key in self.ids]
            if not ready:  # a parent that never arrives: keep the site, unlinked
                ready = new
            self._insert_accounts(ready)
            new = [r for r in new if r.key not in self.ids]
        changes = []
        for key, record in incoming.items():
            row = existing.get(key)
            if row is None:
                continue
            parent_id = self.ids.get(record.parent_key) if record.parent_key else row[4]
            name = record.name or row[2]
            email = record.email or row[3]
            if (name, email, parent_id) != (row[2], row[3], row[4]):
                changes.append((name, email, parent_id, self.batch_id, row[0]))
                self.known[key] = (row[0], key, name, email, parent_id)
        update_rows(
            self.conn,
            ACCOUNTS,
            ("name", "email", "parent_id", "last_batch_id"),
            changes,
        )

    def _as_known(self, record: AccountRecord) -> bool:
        """True when *record* says nothing new of an account this import knows."""
        known = self.known.get(record.key)
        if known is None:
            return False
        _, _, name, email, parent_id = known
        if record.parent_key and (
            record.parent_key not in self.ids
            or self.ids[record.parent_key] != parent_id
        ):
            return False
        return (record.name or name) == name and (record.email or email) == email

    def _insert_accounts(self, records: Sequence[AccountRecord]) -> None:
        if not records:
            return
        ids = allocate_ids(self.conn, ACCOUNTS, len(records))
        rows = []
        for account_id, record in zip(ids, records, strict=True):
            self.ids[record.key] = account_id
            self.created_names.append(record.name)
            if self.diff is not None:
                self.diff.note_customer(record.name)
            parent_id = self.ids.get(record.parent_key) if record.parent_key else None
            self.known[record.key] = (
                account_id,
                record.key,
                record.name,
                record.email,
                parent_id,
            )
            rows.append(
                (account_id, self.source, record.key, record.name, record.email, parent_id,
                 False, self.batch_id, self.batch_id, utcnow())
            )  # fmt: skip
        insert_rows(
            self.conn,
            ACCOUNTS,
            ("id", "source", "external_key", "name", "email", "parent_id", "portal_enabled",
             "first_batch_id", "last_batch_id", "created_at"),
            rows,
        )  # fmt: skip
        self.statistics.grew(ACCOUNTS, len(rows))
