"""Allocations on import: reject those crossing customers, resolve the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    case,
    func,
    select,
    update,
)

from schemas.records import Rejection
from schemas.tables import (
    ALLOCATIONS,
    CREDIT_NOTES,
    INVOICES,
    PAYMENTS,
)
from sync.engine.validate import Prepared
from sync.ledger.allocations import A, one_tree, roots
from sync.store.bulk import IN_CHUNK, chunked, select_in, update_rows

TARGETS = (
    ("invoice", "invoice_ref", "invoice_id"),
    ("credit_note", "credit_note_ref", "credit_note_id"),
)
TABLES: dict[str, Table] = {
    "invoice": INVOICES,
    "credit_note": CREDIT_NOTES,
    "payment": PAYMENTS,
}
LABELS = {"invoice": "invoice", "credit_note": "credit note", "payment": "payment"}


def _accounts(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    """How a row error or warning names each account: ``Name (key)``."""
    return {
        r[0]: f"{r[1]} ({r[2]})"
        for r in select_in(conn, A, ("id", "name", "external_key"), "id", sorted(ids))
    }


def _stored_targets(
    conn: Connection, source: str, target: str, refs: set[str]
) -> dict[str, tuple[int, int]]:
    """``{ref: (id, account_id)}`` for refs that name one stored record, as ``resolve``
    would choose it (the one record with that external id, else with that number)."""
    table = TABLES[target]
    out: dict[str, tuple[int, int]] = {}
    for column in ("external_id", "number"):
        wanted = refs - set(out)
        if not wanted:
            break
        found: dict[str, list[tuple[int, int]]] = {}
        for row in select_in(
            conn, table, ("id", "account_id", column), column, wanted, source=source
        ):
            found.setdefault(row[2], []).append((row[0], row[1]))
        out.update((ref, rows[0]) for ref, rows in found.items() if len(rows) == 1)
    return out


def reject_crossing(
    conn: Connection,
    source: str,
    records: list[Prepared],
    account_ids: dict[str, int],
) -> tuple[list[Prepared], list[Rejection]]:
    """Split *records* (payments or credit notes) into those to apply and the rejections
    of those whose allocations name a stored record of an account outside their tree."""
    refs: dict[str, set[str]] = {"invoice": set(), "credit_note": set()}
    for r in records:
        for _, invoice_ref, credit_ref, *_ in r.allocations:
            refs["invoice"].add(invoice_ref)
            if credit_ref and not (r.kind == "credit_note" and credit_ref == r.key):
                refs["credit_note"].add(credit_ref)
    if not refs["invoice"] and not refs["credit_note"]:
        return records, []
    stored = {t: _stored_targets(conn, source, t, refs[t]) for t in refs}
    crossings: list[tuple[Prepared, int, str, str, int]] = []
    for r in records:
        owner = account_ids[r.account.key]
        for _, invoice_ref, credit_ref, *_ in r.allocations:
            for target, ref in (("invoice", invoice_ref), ("credit_note", credit_ref)):
                found = stored[target].get(ref) if ref else None
                if found is not None and found[1] != owner:
                    crossings.append((r, owner, target, ref, found[1]))
    if not crossings:
        return records, []
    tops = roots(conn, {c[1] for c in crossings} | {c[4] for c in crossings})
    bad = [c for c in crossings if not one_tree(tops, c[1], c[4])]
    names = _accounts(conn, {c[1] for c in bad} | {c[4] for c in bad})
    rejected: dict[int, Rejection] = {}
    for r, owner, target, ref, other in bad:
        if id(r) in rejected:
            continue
        rejected[id(r)] = Rejection(
            reason=f"{r.label} belongs to {names[owner]} but is applied to "
            f"{LABELS[target]} {ref} of {names[other]}, which is not the same customer "
            "or one of its sites; it was not imported. Correct the customer or the "
            "applied-to record in the billing system and export it again",
            line=r.line,
            record=r.label,
            column="allocation",
            value=ref,
        )
    return [r for r in records if id(r) not in rejected], list(rejected.values())


def _owner_account(a: Any) -> ColumnElement[Any]:
    """The account of the payment or credit note the allocation row *a* comes from."""
    payment, credit_note = PAYMENTS.alias(), CREDIT_NOTES.alias()
    return case(
        (
            a.c.owner_kind == "payment",
            select(payment.c.account_id)
            .where(payment.c.id == a.c.owner_id)
            .correlate(a)
            .scalar_subquery(),
        ),
        else_=select(credit_note.c.account_id)
        .where(credit_note.c.id == a.c.owner_id)
        .correlate(a)
        .scalar_subquery(),
    )


def _chosen(target: str, ref: str, a: Any) -> ColumnElement[Any]:
    """The record the allocation row *a* names: the one with that external id, else the
    one with that number, else (two customers may share a number) the one with that
    number among the payer's own records; NULL when none, or more than one, matches."""

    def one(match: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[Any]:
        t = TABLES[target].alias()
        return (
            select(func.max(t.c.id))
            .where(t.c.source == a.c.source, match(t))
            .having(func.count() == 1)
            .correlate(a)
            .scalar_subquery()
        )

    return func.coalesce(
        one(lambda t: t.c.external_id == a.c[ref]),
        one(lambda t: t.c.number == a.c[ref]),
        one(
            lambda t: and_(t.c.account_id == _owner_account(a), t.c.number == a.c[ref])
        ),
    )


@dataclass
class Crossing:
    """An allocation whose record lies in another parent/site tree."""

    allocation_id: int
    owner_kind: str
    owner_id: int
    owner_account: int
    target: str
    target_id: int
    target_account: int


@cache
def _statements(target: str) -> tuple[Update, Select[Any], Select[Any]]:
    """The three statements ``resolve`` runs per target, built once per process (their
    aliases and correlated subqueries cost more to build than to run): binds
    ``resolve_source`` and ``resolve_batch``."""
    _, ref, column = next(t for t in TARGETS if t[0] == target)
    source = bindparam("resolve_source", type_=String)
    batch_id = bindparam("resolve_batch", type_=Integer)
    # The common case, set-based: the record is the payer's own account's.
    record = TABLES[target].alias()
    own = (
        update(ALLOCATIONS)
        .where(
            ALLOCATIONS.c.source == source,
            ALLOCATIONS.c[column].is_(None),
            ALLOCATIONS.c[ref].is_not(None),
            select(record.c.account_id)
            .where(record.c.id == _chosen(target, ref, ALLOCATIONS))
            .correlate(ALLOCATIONS)
            .scalar_subquery()
            == _owner_account(ALLOCATIONS),
        )
        .values({column: _chosen(target, ref, ALLOCATIONS)})
    )
    # The rest names another account's record: resolved only within one tree.
    a = ALLOCATIONS.alias("a")
    c = (
        select(
            a.c.id,
            a.c.owner_kind,
            a.c.owner_id,
            _owner_account(a).label("owner_account"),
            _chosen(target, ref, a).label("target_id"),
        )
        .where(a.c.source == source, a.c[column].is_(None), a.c[ref].is_not(None))
        .subquery("c")
    )
    found = TABLES[target].alias()
    pending = select(
        c.c.id,
        c.c.owner_kind,
        c.c.owner_id,
        c.c.owner_account,
        c.c.target_id,
        select(found.c.account_id)
        .where(found.c.id == c.c.target_id)
        .correlate(c)
        .scalar_subquery(),
    ).where(c.c.target_id.is_not(None))
    # A record this batch moved to another account may have left its payer's tree.
    moved = TABLES[target].alias("t")
    left = (
        select(
            a.c.id,
            a.c.owner_kind,
            a.c.owner_id,
            _owner_account(a),
            moved.c.id,
            moved.c.account_id,
        )
        .select_from(a.join(moved, moved.c.id == a.c[column]))
        .where(
            a.c.source == source,
            moved.c.last_batch_id == batch_id,
            moved.c.account_id != _owner_account(a),
        )
    )
    return own, pending, left


def resolve(
    conn: Connection,
    source: str,
    batch_id: int,
    owners: dict[str, set[int]],
    touched: dict[str, set[int]],
) -> list[str]:
    """Point the source's unresolved allocations at the records they name, within one
    parent/site tree; detach any that a record moved out of its tree in this batch.

    Adds to *touched* (``{"invoice": ids, "credit_note": ids}``) the records that
    gained or lost an allocation across accounts. Returns a warning for each allocation
    left unresolved because of this batch (*owners*: the payments and credit notes
    whose allocations it wrote).
    """
    crossings: list[Crossing] = []
    values = {"resolve_source": source, "resolve_batch": batch_id}
    for target, _, _ in TARGETS:
        own, pending, moved = _statements(target)
        conn.execute(own, values)
        rows: list[Any] = list(conn.execute(pending, values).all())
        rows += conn.execute(moved, values).all()
        crossings += [
            Crossing(row[0], row[1], row[2], row[3], target, row[4], row[5])
            for row in rows
        ]
    crossings = [c for c in crossings if c.owner_account is not None]
    if not crossings:
        return []
    tops = roots(
        conn,
        {c.owner_account for c in crossings} | {c.target_account for c in crossings},
    )
    for target, _, column in TARGETS:
        mine = [c for c in crossings if c.target == target]
        touched[target].update(c.target_id for c in mine)
        update_rows(
            conn,
            ALLOCATIONS,
            (column,),
            [
                (c.target_id if one_tree(tops, c.owner_account, c.target_account) else None,
                 c.allocation_id)
                for c in mine
            ],
        )  # fmt: skip
    bad = [
        c for c in crossings if not one_tree(tops, c.owner_account, c.target_account)
    ]
    return _warnings(conn, batch_id, owners, bad)


def _warnings(
    conn: Connection, batch_id: int, owners: dict[str, set[int]], bad: list[Crossing]
) -> list[str]:
    """Name each crossing this batch brought about (its payer or its record is new)."""
    if not bad:
        return []
    labels: dict[tuple[str, int], tuple[str, int | None]] = {}
    for kind, table in TABLES.items():
        ids = {c.owner_id for c in bad if c.owner_kind == kind}
        ids |= {c.target_id for c in bad if c.target == kind}
        label = (
            func.coalesce(table.c.reference, table.c.external_id)
            if kind == "payment"
            else table.c.number
        )
        for chunk in chunked(sorted(ids), IN_CHUNK):
            for row in conn.execute(
                select(table.c.id, label, table.c.last_batch_id).where(
                    table.c.id.in_(chunk)
                )
            ):
                labels[(kind, row[0])] = (str(row[1]), row[2])
    names = _accounts(
        conn, {c.owner_account for c in bad} | {c.target_account for c in bad}
    )
    out = []
    for c in bad:
        owner, _ = labels[(c.owner_kind, c.owner_id)]
        other, touched = labels[(c.target, c.target_id)]
        if c.owner_id not in owners.get(c.owner_kind, ()) and touched != batch_id:
            continue  # said when the batch that brought it applied
        out.append(
            f"{LABELS[c.owner_kind]} {owner} of {names[c.owner_account]} is applied to "
            f"{LABELS[c.target]} {other} of {names[c.target_account]}, which is not the "
            "same customer or one of its sites: the allocation was left unapplied and "
            "is shown to neither customer"
        )
    return out
