"""One customer id, one customer: accounts whose id carried several names are held.

An account is keyed by the billing system's customer id. When one id arrives with
several different names (in one file, or a stored name and a new one), billfold cannot
tell a renamed customer from different customers that share an id (a catch-all code
such as ``CASH``, a number reused after a migration): the records are imported as the export says, with a warning
naming the id and the names, and the account is *held*. ``account.names_to_confirm``
lists the names; while it is set the portal never opens to the account (``sync.access``),
and a grant on it covers nothing, until an admin confirms that the names are one customer
(admin Accounts page, or ``billfold confirm-account``), which is audited.

Names are compared in Unicode NFC with runs of white space made one space and case
ignored ("Bayview Café" and "BAYVIEW  CAFE\u0301" are one name). A mention whose name is
its key (an export without ids, or an id with no name) says nothing about the name.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable

from sqlalchemy import Connection, select, update

from schemas.limits import clip
from schemas.tables import ACCOUNTS
from sync.errors import AccountHeld, UsageError
from sync.store.audit import record

A = ACCOUNTS
SHOWN_NAMES = 5
SHOWN_CHARACTERS = 80


def name_form(name: str) -> str:
    """Return the form two names are compared in: NFC, one space, no case."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


class NameCheck:
    """The names each account key carried during one import (and before it, stored)."""

    def __init__(self) -> None:
        # key -> {name form: the name as first written}
        self.names: dict[str, dict[str, str]] = {}
        self._last: dict[str, str] = {}  # key -> the last name seen (a fast path)

    def saw(self, key: str, name: str | None, *, stored: bool = False) -> None:
        """Note that *key* was called *name* in the file (or, *stored*, before it)."""
        if not name or name == key or (not stored and self._last.get(key) == name):
            return
        self._last[key] = name
        seen = self.names.setdefault(key, {})
        if stored:  # the name it had comes first
            self.names[key] = {name_form(name): name, **seen}
        else:
            seen.setdefault(name_form(name), name)

    def conflicts(self) -> dict[str, list[str]]:
        """Return the keys that carried more than one name, each with its names."""
        return {k: list(v.values()) for k, v in self.names.items() if len(v) > 1}


def hold(
    conn: Connection, conflicts: dict[str, list[str]], account_ids: dict[str, int]
) -> list[str]:
    """Hold the accounts whose key carried names an admin has not confirmed.

    *conflicts* comes from ``NameCheck.conflicts``; return one warning for each account
    held now (or held again for a name it had not carried before).
    """
    warnings = []
    for key, names in sorted(conflicts.items()):
        account_id = account_ids.get(key)
        if account_id is None:
            continue
        row = conn.execute(
            select(A.c.names_to_confirm, A.c.confirmed_names).where(
                A.c.id == account_id
            )
        ).one()
        pending = json.loads(row.names_to_confirm or "[]")
        pending_forms = {name_form(n) for n in pending}
        confirmed = {name_form(n) for n in json.loads(row.confirmed_names or "[]")}
        if all(name_form(n) in pending_forms | confirmed for n in names):
            continue  # nothing an admin has not seen already
        held = pending + [n for n in names if name_form(n) not in pending_forms]
        conn.execute(
            update(A)
            .where(A.c.id == account_id)
            .values(names_to_confirm=json.dumps(held, ensure_ascii=False))
        )
        warnings.append(
            f"customer id {_clip(key)!r} carries {len(held)} different names "
            f"({shown_names(held)}): they were imported as one account. If they are "
            "different customers, give each its own id in the billing system and "
            "import again; if they are one, confirm it on the admin Accounts page or "
            f"with `billfold confirm-account {_clip(key)!r}`. Until then the portal "
            "stays closed to this account"
        )
    return warnings


def held_names(conn: Connection, account_id: int) -> list[str] | None:
    """Return the names an account is held for, or None when it is not held."""
    text = conn.execute(
        select(A.c.names_to_confirm).where(A.c.id == account_id)
    ).scalar_one_or_none()
    return None if text is None else list(json.loads(text))


def held_reason(key: str, names: list[str]) -> str:
    """Say why an account is held, for the admin (its key and the names it carried)."""
    if len(names) > 1:
        return (
            f"its customer id {_clip(key)!r} carried {len(names)} different names "
            f"({shown_names(names)}), so it may be several customers in one account"
        )
    return (
        f"its key {_clip(key)!r} is not a real customer id (a placeholder such as null "
        "or N/A): imports before billfold knew placeholders may have put several "
        "customers in it. Import the export again (each customer now gets an account "
        "of its own, by name) and look at what is left in it"
    )


def check_may_open(conn: Connection, account_id: int) -> None:
    """Raise AccountHeld when the account waits for its names to be confirmed."""
    row = conn.execute(
        select(A.c.external_key, A.c.name, A.c.names_to_confirm).where(
            A.c.id == account_id
        )
    ).one_or_none()
    if row is None or row.names_to_confirm is None:
        return
    reason = held_reason(row.external_key, json.loads(row.names_to_confirm))
    raise AccountHeld(
        f"{_clip(row.name)} ({_clip(row.external_key)}) cannot be opened to the portal: "
        f"{reason}. If it is one customer, confirm it first (admin Accounts page, or "
        f"`billfold confirm-account {_clip(row.external_key)!r}`)"
    )


def confirm(
    conn: Connection, account_id: int, *, actor: str, ip: str | None = None
) -> list[str]:
    """Confirm that a held account's names are one customer (audited); return them.

    The names stay confirmed: a later import that carries only these names does not
    hold the account again.
    """
    row = conn.execute(
        select(A.c.names_to_confirm, A.c.confirmed_names).where(A.c.id == account_id)
    ).one_or_none()
    if row is None or row.names_to_confirm is None:
        raise UsageError("this account is not waiting for a confirmation")
    names = list(json.loads(row.names_to_confirm))
    confirmed = list(json.loads(row.confirmed_names or "[]"))
    forms = {name_form(n) for n in confirmed}
    confirmed += [n for n in names if name_form(n) not in forms]
    conn.execute(
        update(A)
        .where(A.c.id == account_id)
        .values(
            names_to_confirm=None,
            confirmed_names=json.dumps(confirmed, ensure_ascii=False),
        )
    )
    record(conn, actor, "account_confirmed", account_id=account_id, ip=ip, names=names)
    return names


def _clip(text: str) -> str:
    return clip(text, SHOWN_CHARACTERS)


def shown_names(names: Iterable[str]) -> str:
    """Return names for a message: quoted, clipped, the first few of many."""
    names = list(names)
    more = len(names) - SHOWN_NAMES
    shown = ", ".join(repr(_clip(n)) for n in names[:SHOWN_NAMES])
    return shown + (f" and {more} more" if more > 0 else "")
