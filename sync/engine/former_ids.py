"""Documents stored under the id an older billfold gave them.

QuickBooks reports carry no ids. billfold used to identify their documents by number
alone, so two customers' invoice 1001 (QuickBooks allows it) were one record and the
second replaced the first. They are now identified by type, number and customer
(``adapters.keys.document_key``), and such a record names its old id in ``former_key``.

A document stored under that former id is this record when it belongs to the same
customer: the same account, or an account of the same name (a source that mixes
reports with an export keyed by customer ids). The record then keeps the stored id (and
its content hash is computed again with it), so re-importing a report into a store that
imported it before changes nothing and creates no twin. A stored document of another
customer is not this record: it is that customer's document of the same number, and
this one becomes a record of its own.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from schemas.tables import ACCOUNTS
from sync.engine.apply import TABLES
from sync.engine.validate import Prepared, content_hash
from sync.ledger.identity import name_form

A = ACCOUNTS


def adopt_former_ids(
    conn: Connection,
    source: str,
    kind: str,
    records: list[Prepared],
    account_ids: dict[str, int],
) -> None:
    """Give each record that has a former id stored for its customer that stored id."""
    waiting = [p for p in records if p.former_key and p.former_key != p.key]
    if not waiting:
        return
    table = TABLES[kind]
    wanted = sorted(
        {p.key for p in waiting} | {p.former_key for p in waiting if p.former_key}
    )
    stored: dict[str, tuple[int, str]] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            select(table.c.external_id, table.c.account_id, A.c.name)
            .join(A, A.c.id == table.c.account_id)
            .where(
                table.c.source == source,
                table.c.external_id.in_(wanted[start : start + 500]),
            )
        )
        stored.update((r.external_id, (r.account_id, r.name)) for r in rows)
    for p in waiting:
        if p.key in stored or p.former_key not in stored:
            continue
        account_id, name = stored[p.former_key]
        same = account_id == account_ids.get(p.account.key) or name_form(
            name
        ) == name_form(p.account.name)
        if same:
            p.key = p.values["external_id"] = p.former_key
            p.content_hash = p.values["content_hash"] = content_hash(p)
