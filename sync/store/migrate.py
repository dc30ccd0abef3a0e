"""Bring a store's schema up to date with Alembic (``billfold db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sync.store import Store

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(store: Store) -> Config:
    """Return an Alembic config pointing at billfold's migrations and *store*."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """Return the newest migration's revision id."""
    script = ScriptDirectory.from_config(alembic_config(Store("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    """Return the revision the store is at, or None for an empty database."""
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store) -> tuple[str | None, str]:
    """Migrate *store* to the newest schema; return (revision before, revision after)."""
    before = current_revision(store)
    config = alembic_config(store)
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return before, head_revision()


def ensure_current(store: Store) -> None:
    """Migrate an out-of-date store (the CLI calls this on first use)."""
    if current_revision(store) != head_revision():
        upgrade(store)
