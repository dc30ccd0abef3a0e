"""Namesakes: new accounts named like the accounts of another source.

Identity is the source's, so one billing system's export imported under two sources
makes two copies of every customer (two "Bayview Café", each with half the invoices).
An import that creates accounts whose names equal, NFC-normalised and casefolded, the
names of accounts in another source says so in a warning listing them; an upload from
the portal is held until the admin confirms it (``import_file(hold_namesakes=True)``).
Sites and parents of different sources may share a name on purpose: it is a warning,
never a rejection.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import Connection, select

from schemas.tables import ACCOUNTS

A = ACCOUNTS
SHOWN = 10  # names spelt out in the warning; the rest are counted
STREAM_ROWS = 5000


def fold(name: str) -> str:
    """Return *name* as compared: NFC, casefolded, runs of spaces made one."""
    return unicodedata.normalize("NFC", " ".join(name.split()).casefold())


def find_namesakes(
    conn: Connection, source: str, names: Iterable[str]
) -> dict[str, list[str]]:
    """Return each of *names* that an account of another source bears too, with those
    sources, in name order."""
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(fold(name), name)
    if not wanted:
        return {}
    found: dict[str, set[str]] = {}
    rows = conn.execute(
        select(A.c.name, A.c.source)
        .where(A.c.source != source)
        .execution_options(yield_per=STREAM_ROWS)
    )
    for row in rows:
        mine = wanted.get(fold(row.name))
        if mine is not None:
            found.setdefault(mine, set()).add(row.source)
    return {name: sorted(found[name]) for name in sorted(found, key=fold)}


def namesake_warning(found: dict[str, list[str]]) -> str:
    """The warning an import with namesakes carries (at most ``SHOWN`` names spelt out)."""
    listed = [
        f"{name} (also in {', '.join(sources)})"
        for name, sources in list(found.items())[:SHOWN]
    ]
    if len(found) > SHOWN:
        listed.append(f"and {len(found) - SHOWN} more")
    return (
        f"{len(found)} new account(s) have the same name as an account of another "
        "source, so the same customer may now be in billfold twice: "
        + "; ".join(listed)
        + ". If this file comes from that source's billing system, import it into "
        "that source instead."
    )
