"""Allocations as readers count them: live ones, within one customer's tree."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    and_,
    func,
    or_,
)

from schemas.tables import (
    ACCOUNTS,
    ALLOCATIONS,
    CREDIT_NOTES,
    PAYMENTS,
)
from sync.store.bulk import select_in

AL = ALLOCATIONS
A = ACCOUNTS
_OWNER_PAYMENT = PAYMENTS.alias("owner_payment")
_OWNER_CREDIT = CREDIT_NOTES.alias("owner_credit_note")
_APPLIED_CREDIT = CREDIT_NOTES.alias("applied_credit_note")


def live_allocations() -> FromClause:
    """Allocations joined to what they come from; filter them with ``LIVE_ALLOCATION``."""
    return (
        AL.outerjoin(
            _OWNER_PAYMENT,
            and_(AL.c.owner_kind == "payment", _OWNER_PAYMENT.c.id == AL.c.owner_id),
        )
        .outerjoin(
            _OWNER_CREDIT,
            and_(AL.c.owner_kind == "credit_note", _OWNER_CREDIT.c.id == AL.c.owner_id),
        )
        .outerjoin(_APPLIED_CREDIT, _APPLIED_CREDIT.c.id == AL.c.credit_note_id)
    )


# An allocation counts while what it comes from stands: a payment that was not voided or
# deleted, a credit note that was issued (and, for credit a payment applied, still is).
LIVE_ALLOCATION = and_(
    or_(_OWNER_PAYMENT.c.lifecycle == "active", _OWNER_CREDIT.c.lifecycle == "issued"),
    or_(AL.c.credit_note_id.is_(None), _APPLIED_CREDIT.c.lifecycle == "issued"),
)


def within(accounts: Collection[int]) -> ColumnElement[bool]:
    """Over ``live_allocations()``: the payer or creditor, and any credit a payment
    applied, belong to *accounts* (the other side of the invoice is in view)."""
    ids = sorted(accounts)
    owner = func.coalesce(_OWNER_PAYMENT.c.account_id, _OWNER_CREDIT.c.account_id)
    return and_(
        owner.in_(ids),
        or_(AL.c.credit_note_id.is_(None), _APPLIED_CREDIT.c.account_id.in_(ids)),
    )


def roots(conn: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    """The top of each account's parent/site tree (an account without a parent is its own)."""
    parents: dict[int, int | None] = {}
    frontier = set(account_ids)
    while frontier:
        found = select_in(conn, A, ("id", "parent_id"), "id", sorted(frontier))
        frontier = set()
        for account_id, parent_id in found:
            parents[account_id] = parent_id
            if parent_id is not None and parent_id not in parents:
                frontier.add(parent_id)
    out = {}
    for start in parents:
        seen, node = {start}, start
        while (parent := parents.get(node)) is not None and parent not in seen:
            seen.add(parent)
            node = parent
        out[start] = node
    return out


def one_tree(tops: dict[int, int], a: int, b: int) -> bool:
    """True when accounts *a* and *b* are one account or in one parent/site tree."""
    return a == b or tops.get(a, a) == tops.get(b, b)
