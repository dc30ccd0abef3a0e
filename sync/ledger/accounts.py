"""Accounts: find a customer's account by key or name, and its sites."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, or_, select

from adapters.toolkit.columns import nfc_key
from schemas.tables import (
    ACCOUNTS,
)
from sync.errors import UsageError

A = ACCOUNTS


@dataclass(frozen=True)
class AccountRef:
    """An account as a person names it."""

    id: int
    source: str
    key: str
    name: str
    parent_id: int | None


def find_accounts(
    conn: Connection, key: str, source: str | None = None
) -> list[AccountRef]:
    """Return the accounts whose key or name is *key* (optionally in one source).

    *key* is compared in Unicode NFC, the form imports store keys and names in, so a
    name typed or pasted decomposed ("A" + combining macron) finds "Ā".
    """
    key = nfc_key(key)
    stmt = select(A.c.id, A.c.source, A.c.external_key, A.c.name, A.c.parent_id).where(
        or_(A.c.external_key == key, A.c.name == key)
    )
    if source:
        stmt = stmt.where(A.c.source == source)
    return [
        AccountRef(row.id, row.source, row.external_key, row.name, row.parent_id)
        for row in conn.execute(stmt.order_by(A.c.id))
    ]


def resolve_account(
    conn: Connection, key: str, source: str | None = None
) -> AccountRef:
    """Return the one account named *key*, or raise UsageError saying what matched."""
    found = find_accounts(conn, key, source)
    if not found:
        raise UsageError(
            f"no account has the key or name {key!r}; `billfold balances` lists them"
        )
    if len(found) > 1:
        sources = ", ".join(sorted({a.source for a in found}))
        raise UsageError(
            f"{key!r} names {len(found)} accounts (sources: {sources}); add --source"
        )
    return found[0]


def with_sites(conn: Connection, account_ids: Iterable[int]) -> list[int]:
    """Return *account_ids* plus every site (child, grandchild…) under them."""
    result = list(dict.fromkeys(account_ids))
    frontier = list(result)
    while frontier:
        children = [
            row[0]
            for row in conn.execute(select(A.c.id).where(A.c.parent_id.in_(frontier)))
            if row[0] not in result
        ]
        result.extend(children)
        frontier = children
    return result
