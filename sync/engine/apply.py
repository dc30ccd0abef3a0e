"""Apply."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    String,
    Table,
    delete,
    exists,
    select,
    update,
)
from sqlalchemy.schema import CreateTable

from schemas.records import AccountRecord, Deletion
from schemas.tables import (
    ACCOUNTS,
    ALLOCATIONS,
    CREDIT_NOTE_LINES,
    CREDIT_NOTES,
    DOCUMENTS,
    INVOICE_LINES,
    INVOICES,
    PAYMENTS,
)
from sync.engine.accounts import AccountWriter
from sync.engine.allocations import resolve
from sync.engine.first_reports import (
    FIRST_REPORT_COLUMNS,
    first_report,
    note_first_reports,
)
from sync.engine.reconcile import Plan, Stored
from sync.engine.review import Diff, old_figures
from sync.engine.validate import Prepared, content_hash
from sync.ledger.figures import feed_figures, refresh_derived
from sync.ledger.identity import hold
from sync.ledger.marks import evaluate_marks
from sync.store.bulk import (
    IN_CHUNK,
    PlannerStatistics,
    allocate_ids,
    chunked,
    delete_where_in,
    insert_rows,
    select_in,
    update_rows,
)

_DOC_COLUMNS = (
    "source", "external_id", "number", "currency", "issue_date", "due_date",
    "subtotal_minor", "tax_minor", "total_minor", "lifecycle", "reference", "memo",
    "pay_url", "terms", "tax_mode", "exchange_rate", "doc_type", "source_updated_at",
    "source_version", "content_hash",
)  # fmt: skip
COLUMNS = {
    "invoice": (
        *_DOC_COLUMNS,
        "feed_paid_minor", "feed_credited_minor", "feed_balance_minor", "paid_flag",
        "paid_minor", "credited_minor", "balance_minor", "status", "settled_by",
        "marked_excess_minor",
    ),
    "credit_note": (
        *_DOC_COLUMNS,
        "feed_remaining_minor", "applied_minor", "remaining_minor", "status",
        "refunded_minor", "refunded_on",
    ),
    "payment": (
        "source", "external_id", "received_on", "currency", "amount_minor", "method",
        "reference", "memo", "lifecycle", "feed_unapplied_minor", "unapplied_minor",
        "refunded_minor", "refunded_on", "source_updated_at", "source_version",
        "content_hash",
    ),
}  # fmt: skip
TABLES: dict[str, Table] = {
    "invoice": INVOICES,
    "credit_note": CREDIT_NOTES,
    "payment": PAYMENTS,
}
LINE_TABLES = {
    "invoice": (INVOICE_LINES, "invoice_id"),
    "credit_note": (CREDIT_NOTE_LINES, "credit_note_id"),
}
# What a snapshot import saw, kept for the transaction (``_flag_missing``).
SEEN = Table(
    "billfold_seen",
    MetaData(),
    Column("kind", String),
    Column("key", String),
    prefixes=["TEMPORARY"],
)
LINE_COLUMNS = (
    "position",
    "kind",
    "description",
    "item",
    "quantity",
    "unit_price",
    "amount_minor",
    "tax_minor",
)
ALLOCATION_COLUMNS = (
    "source", "owner_kind", "owner_id", "kind", "payment_id", "credit_note_ref",
    "invoice_ref", "amount_minor", "currency", "applied_on",
)  # fmt: skip


_ALLOC = ALLOCATIONS


@dataclass
class Counts:
    """What a batch did, record by record."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0
    duplicates: int = 0
    superseded: int = 0
    seen_kinds: set[str] = field(default_factory=set)


class BatchWriter:
    """Writes one file's plans; every method runs inside the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        *,
        source: str,
        batch_id: int,
        snapshot: bool,
        diff: Diff | None = None,
    ):
        self.conn = conn
        self.source = source
        self.batch_id = batch_id
        self.diff = diff
        self.snapshot = snapshot
        self.counts = Counts()
        self.held: list[str] = []  # a warning for each account held by this import
        self.statistics = PlannerStatistics(conn)
        self.accounts = AccountWriter(
            conn,
            source=source,
            batch_id=batch_id,
            statistics=self.statistics,
            diff=diff,
        )
        self.account_ids = self.accounts.ids  # external key -> id, for every record
        self.refresh_invoices: set[int] = set()
        self.refresh_credit_notes: set[int] = set()
        self.updated: dict[str, set[int]] = {"invoice": set(), "credit_note": set()}
        self.allocation_owners: dict[str, set[int]] = {
            "payment": set(),
            "credit_note": set(),
        }
        self.warnings: list[str] = []  # allocations left unresolved (sync.allocations)
        if snapshot:
            conn.execute(CreateTable(SEEN, if_not_exists=True))
            conn.execute(delete(SEEN))

    # -- reading ------------------------------------------------------------------

    def stored(self, kind: str, keys: Iterable[str]) -> dict[str, Stored]:
        """Return what the store holds for *keys* of *kind* in this source."""
        table = TABLES[kind]
        total = "amount_minor" if kind == "payment" else "total_minor"
        columns = (
            "id",
            "external_id",
            "content_hash",
            "source_updated_at",
            "source_version",
            "last_batch_id",
            total,
        )
        found = {}
        for row in select_in(
            self.conn, table, columns, "external_id", set(keys), source=self.source
        ):
            found[row[1]] = Stored(row[0], row[2], row[3], row[4], row[5], row[6])
        return found

    def deleted_copies(
        self, kind: str, deletions: Sequence[Deletion], as_of: datetime | None
    ) -> tuple[list[Prepared], list[Deletion]]:
        """Return the stored records *deletions* name, as copies marked deleted, and the
        deletions that name no stored record.

        A deletion that names only an id (QuickBooks change data capture) deletes the
        stored record as a full record arriving deleted would (Xero DELETED): its
        figures stay, its lifecycle hides it, and a deleted payment or credit note
        settles nothing. A deletion older than the stored record changes nothing.
        """
        table = TABLES[kind]
        columns = COLUMNS[kind]
        wanted = {d.external_id: d for d in deletions}
        copies = []
        for chunk in chunked(list(wanted), IN_CHUNK):
            query = (
                select(
                    table.c.account_id,
                    ACCOUNTS.c.external_key,
                    ACCOUNTS.c.name,
                    *(table.c[c] for c in columns),
                )
                .join(ACCOUNTS, ACCOUNTS.c.id == table.c.account_id)
                .where(table.c.source == self.source, table.c.external_id.in_(chunk))
            )
            for row in self.conn.execute(query):
                values = dict(zip(columns, row[3:], strict=True))
                deletion = wanted.pop(values["external_id"])
                stored_hash = values["content_hash"]
                already = values["lifecycle"] == "deleted"
                values["lifecycle"] = "deleted"
                values["source_updated_at"] = deletion.updated_at or as_of
                if kind != "payment":
                    values.update(feed_figures(kind, values))
                number = values["reference" if kind == "payment" else "number"]
                label = {"credit_note": "credit note"}.get(kind, kind)
                copy = Prepared(
                    kind=kind,
                    key=values["external_id"],
                    account=AccountRecord(key=row[1], name=row[2]),
                    values=values,
                    content_hash="",
                    updated_at=values["source_updated_at"],
                    version=values["source_version"],
                    label=f"{label} {number or values['external_id']}",
                    line=None,
                    lines_known=False,
                )
                copy.content_hash = values["content_hash"] = (
                    stored_hash if already else content_hash(copy)
                )
                self.account_ids[row[1]] = row[0]
                copies.append(copy)
        return copies, list(wanted.values())

    def ensure_accounts(self, records: Iterable[AccountRecord]) -> None:
        """Create or update the accounts *records* name (``AccountWriter.ensure``)."""
        self.accounts.ensure(records)

    def _insert(self, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
        insert_rows(self.conn, table, columns, rows)
        self.statistics.grew(table, len(rows))

    # -- documents and payments ---------------------------------------------------

    def apply(self, kind: str, plan: Plan) -> None:
        """Write one chunk's plan for records of *kind*."""
        if (
            self.diff is not None
        ):  # before anything is written: the diff needs old values
            self._note_diff(kind, plan)
        counts = self.counts
        counts.created += len(plan.inserts)
        counts.updated += len(plan.updates)
        counts.unchanged += len(plan.unchanged) + len(plan.older)
        counts.older += len(plan.older)
        counts.duplicates += len(plan.duplicates)
        counts.superseded += len(plan.superseded)
        if plan.inserts or plan.updates or plan.unchanged or plan.older:
            counts.seen_kinds.add(kind)
        columns = COLUMNS[kind]
        ids = allocate_ids(self.conn, TABLES[kind], len(plan.inserts))
        insert = []
        for row_id, record in zip(ids, plan.inserts, strict=True):
            values = record.values
            insert.append(
                (row_id, *(values[c] for c in columns), self.account_ids[record.account.key],
                 self.batch_id, self.batch_id, *first_report(kind, values))
            )  # fmt: skip
        self._insert(
            TABLES[kind],
            ("id", *columns, "account_id", "first_batch_id", "last_batch_id",
             *FIRST_REPORT_COLUMNS.get(kind, ())),
            insert,
        )  # fmt: skip
        update = [
            (*(record.values[c] for c in columns), self.account_ids[record.account.key],
             self.batch_id, None, row_id)
            for row_id, record in plan.updates
        ]  # fmt: skip
        update_rows(
            self.conn,
            TABLES[kind],
            (*columns, "account_id", "last_batch_id", "missing_since_batch_id"),
            update,
        )
        written = list(zip(ids, plan.inserts, strict=True)) + plan.updates
        updated_ids = [row_id for row_id, _ in plan.updates]
        if kind in self.updated:  # inserts carry their first report already
            self.updated[kind].update(updated_ids)
        if kind in LINE_TABLES:
            self._replace_lines(kind, written, updated_ids)
            self._documents_follow(kind, updated_ids)
        if kind in ("payment", "credit_note"):
            self._replace_allocations(kind, written, updated_ids)
            self._refresh_targets_of(kind, updated_ids)
        if kind == "invoice":
            self.refresh_invoices.update(updated_ids)
            self.refresh_invoices.update(
                row_id for row_id, r in written if not _has_settlement_facts(r.values)
            )
        elif kind == "credit_note":
            self.refresh_credit_notes.update(
                row_id
                for row_id, r in written
                if r.values["feed_remaining_minor"] is None
            )
        if self.snapshot:
            seen = [(kind, r.key) for r in (*plan.inserts, *plan.unchanged)]
            seen += [(kind, r.key) for _, r in plan.updates]
            seen += [(kind, r.key) for r, _ in plan.older]
            insert_rows(self.conn, SEEN, ("kind", "key"), seen)

    def _documents_follow(self, kind: str, updated: list[int]) -> None:
        """A document linked to a record moves with it when a re-import changes its
        account: customers see documents by account, and the old one must lose it."""
        if not updated:
            return
        record = TABLES[kind]
        column = (
            DOCUMENTS.c.invoice_id if kind == "invoice" else DOCUMENTS.c.credit_note_id
        )
        account = select(record.c.account_id).where(record.c.id == column)
        for chunk in chunked(updated, IN_CHUNK):
            self.conn.execute(
                update(DOCUMENTS)
                .where(column.in_(chunk))
                .values(account_id=account.scalar_subquery())
            )

    def _note_diff(self, kind: str, plan: Plan) -> None:
        diff = self.diff
        assert diff is not None  # called only when the batch keeps a diff (staging)
        names = self._account_names(
            {r.account.key for r in plan.inserts}
            | {r.account.key for _, r in plan.updates}
        )
        for record in plan.inserts:
            diff.note_new(
                kind, record.values, names.get(record.account.key, record.account.name)
            )
        old = old_figures(
            self.conn, TABLES[kind], [row_id for row_id, _ in plan.updates]
        )
        for row_id, record in plan.updates:
            diff.note_update(
                kind,
                old[row_id],
                record.values,
                names.get(record.account.key, record.account.name),
            )

    def _account_names(self, keys: set[str]) -> dict[str, str]:
        table = ACCOUNTS
        return {
            row[0]: row[1]
            for row in select_in(
                self.conn,
                table,
                ("external_key", "name"),
                "external_key",
                keys,
                source=self.source,
            )
        }

    def _refresh_targets_of(self, kind: str, updated: list[int]) -> None:
        """A payment or credit note that changed (voided, say) changes what it settled."""
        column = _ALLOC.c.payment_id if kind == "payment" else _ALLOC.c.credit_note_id
        for chunk in chunked(updated, IN_CHUNK):
            for row in self.conn.execute(
                select(_ALLOC.c.invoice_id, _ALLOC.c.credit_note_id).where(
                    column.in_(chunk)
                )
            ):
                if row[0] is not None:
                    self.refresh_invoices.add(row[0])
                if row[1] is not None:
                    self.refresh_credit_notes.add(row[1])

    def _replace_lines(
        self, kind: str, written: list[tuple[int, Prepared]], updated: list[int]
    ) -> None:
        table, parent = LINE_TABLES[kind]
        known = {row_id for row_id, record in written if record.lines_known}
        delete_where_in(self.conn, table, parent, [i for i in updated if i in known])
        rows = [
            (row_id, *line)
            for row_id, record in written
            if record.lines_known
            for line in record.lines
        ]
        self._insert(table, (parent, *LINE_COLUMNS), rows)

    def _replace_allocations(
        self, kind: str, written: list[tuple[int, Prepared]], updated: list[int]
    ) -> None:
        alloc = ALLOCATIONS
        for row in select_in(
            self.conn,
            alloc,
            ("invoice_id", "credit_note_id"),
            "owner_id",
            updated,
            owner_kind=kind,
        ):
            if row[0] is not None:
                self.refresh_invoices.add(row[0])
            if row[1] is not None:
                self.refresh_credit_notes.add(row[1])
        for chunk in chunked(updated, IN_CHUNK):
            self.conn.execute(
                alloc.delete().where(
                    alloc.c.owner_kind == kind, alloc.c.owner_id.in_(chunk)
                )
            )
        rows = []
        for row_id, record in written:
            payment_id = row_id if kind == "payment" else None
            for (
                a_kind,
                invoice_ref,
                credit_ref,
                amount,
                currency,
                applied_on,
            ) in record.allocations:
                rows.append(
                    (self.source, kind, row_id, a_kind, payment_id, credit_ref, invoice_ref,
                     amount, currency, applied_on)
                )  # fmt: skip
            if record.allocations:
                self.allocation_owners[kind].add(row_id)
        self._insert(ALLOCATIONS, ALLOCATION_COLUMNS, rows)

    # -- end of batch ---------------------------------------------------------------

    def finish(self, as_of: datetime | None = None) -> int:
        """Resolve allocations, judge paid marks, refresh derived figures, flag gaps.

        The office's paid marks on the touched invoices are judged against what the
        feed now says (``sync.ledger.marks.evaluate_marks``) before the figures are
        refreshed (``sync.ledger.figures``); *as_of* is the export's as-of time, the day
        it reports settlements on. Accounts whose customer id carried several names are
        held (``sync.ledger.identity``). Returns the number of records a snapshot found
        missing.
        """
        self._resolve_allocations()
        evaluate_marks(
            self.conn, self.refresh_invoices, self.batch_id, f"source:{self.source}"
        )
        refresh_derived(self.conn, self.refresh_invoices, self.refresh_credit_notes)
        note_first_reports(
            self.conn,
            self.updated["invoice"] | self.refresh_invoices,
            self.updated["credit_note"] | self.refresh_credit_notes,
            batch_id=self.batch_id,
            as_of=as_of,
        )
        self.held = hold(self.conn, self.accounts.names.conflicts(), self.account_ids)
        return self._flag_missing() if self.snapshot else 0

    def _resolve_allocations(self) -> None:
        alloc = _ALLOC
        conn = self.conn
        touched = {
            "invoice": self.refresh_invoices,
            "credit_note": self.refresh_credit_notes,
        }
        self.warnings += resolve(
            conn, self.source, self.batch_id, self.allocation_owners, touched
        )
        # Everything this batch allocated, and anything from earlier files that now
        # found its target, needs its figures recomputed.
        for id_column, refresh in (
            ("invoice_id", self.refresh_invoices),
            ("credit_note_id", self.refresh_credit_notes),
        ):
            for kind, owners in self.allocation_owners.items():
                for row in select_in(
                    conn, alloc, (id_column,), "owner_id", owners, owner_kind=kind
                ):
                    if row[0] is not None:
                        refresh.add(row[0])
        table = TABLES["invoice"]
        for row in conn.execute(
            select(alloc.c.invoice_id, alloc.c.credit_note_id).where(
                alloc.c.source == self.source,
                alloc.c.invoice_id.in_(
                    select(table.c.id).where(table.c.first_batch_id == self.batch_id)
                ),
            )
        ):
            self.refresh_invoices.add(row[0])
            if row[1] is not None:
                self.refresh_credit_notes.add(row[1])

    def _flag_missing(self) -> int:
        flagged = 0
        for kind in sorted(self.counts.seen_kinds):
            table = TABLES[kind]
            seen = exists().where(
                SEEN.c.kind == kind, SEEN.c.key == table.c.external_id
            )
            result = self.conn.execute(
                update(table)
                .where(
                    table.c.source == self.source,
                    table.c.missing_since_batch_id.is_(None),
                    table.c.lifecycle != "deleted",
                    ~seen,
                )
                .values(missing_since_batch_id=self.batch_id)
            )
            flagged += result.rowcount or 0
            if self.diff is not None and result.rowcount:
                label = table.c.reference if kind == "payment" else table.c.number
                for row in self.conn.execute(
                    select(label, ACCOUNTS.c.name)
                    .join(ACCOUNTS, ACCOUNTS.c.id == table.c.account_id)
                    .where(table.c.missing_since_batch_id == self.batch_id)
                ):
                    self.diff.note_gone(kind, row[0], row[1])
            self.conn.execute(
                update(table)
                .where(
                    table.c.source == self.source,
                    table.c.missing_since_batch_id.is_not(None),
                    seen,
                )
                .values(missing_since_batch_id=None)
            )
        return flagged


def _has_settlement_facts(values: dict[str, Any]) -> bool:
    return (
        values["feed_balance_minor"] is not None
        or values["feed_paid_minor"] is not None
        or values["feed_credited_minor"] is not None
    )
