"""The migrations build exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import schemas.tables  # noqa: F401
from sync.store import Store
from sync.store.migrate import current_revision, head_revision, upgrade


def test_migrated_store_matches_the_models(store):
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
    assert current_revision(store) == head_revision()


def test_upgrade_of_an_empty_sqlite_file_and_again(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    before, after = upgrade(store)
    assert before is None and after == head_revision()
    assert upgrade(store) == (head_revision(), head_revision())
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()
