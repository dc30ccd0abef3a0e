"""The suite's own fixtures (tests/conftest.py): a store per test that starts empty,
with ids from 1, and one cache of compiled SQL for every engine of a test process."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine.default import CACHE_HIT

from schemas.tables import CONTACTS
from sync.access import contacts
from sync.store import Store


def test_a_reset_store_is_empty_and_counts_ids_from_one_again(store, database) -> None:  # type: ignore[no-untyped-def]
    with store.write(ledger=False) as conn:
        first = contacts.ensure_admin(conn, "office@harbor.example")
        contacts.ensure_admin(conn, "owner@harbor.example")
    database.reset(store)
    with store.read() as conn:
        assert conn.execute(select(CONTACTS.c.id)).all() == []
    with store.write(ledger=False) as conn:
        assert contacts.ensure_admin(conn, "someone@harbor.example") == first == 1


def test_a_new_engine_reuses_the_sql_an_earlier_one_compiled(settings, store) -> None:  # type: ignore[no-untyped-def]
    query = select(CONTACTS.c.email).where(CONTACTS.c.email == "first@compile.example")
    with store.read() as conn:
        conn.execute(query).all()
    other = Store(settings.resolved_database_url)
    try:
        with other.read() as conn:
            assert conn.execute(query).context.cache_hit == CACHE_HIT
    finally:
        other.dispose()
