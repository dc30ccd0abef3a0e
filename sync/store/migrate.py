"""The store's schema: Alembic migrations, who runs them, and the check everyone else makes.

``billfold db upgrade`` migrates (``upgrade``). It is safe to run from several nodes at
once: on PostgreSQL the migration runs inside a transaction that first takes an advisory
lock, so one process migrates while the others wait and then find the schema current;
on SQLite ``BEGIN IMMEDIATE`` does the same. The embedded store (SQLite) also migrates
itself on first use from any command (``ensure_current``); a PostgreSQL database is
migrated only by ``billfold db upgrade``. Web workers never migrate: ``check_current``
refuses a schema that is not the one this billfold needs, in one line.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text

from sync.errors import StoreError
from sync.store import Store

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK_KEY = 0x0B1F_0DB0  # arbitrary, constant: "billfold schema migration"


class SchemaNotCurrent(StoreError):
    """The database's schema is not the one this billfold needs."""


def alembic_config(store: Store) -> Config:
    """Return an Alembic config pointing at billfold's migrations and *store*."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(Store("sqlite://")))


def head_revision() -> str:
    """Return the newest migration's revision id."""
    head = _script().get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    """Return the revision the store is at, or None for an empty database."""
    with store._translate(), store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revision(revision: str) -> bool:
    """True when *revision* is one of this billfold's migrations."""
    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


def schema_problem(store: Store) -> tuple[str, bool] | None:
    """Say what is wrong with the store's schema, or None when it is current.

    Returns (the one line to show, whether ``billfold db upgrade`` cures it). A
    revision this billfold does not know was written by a newer release.
    """
    return _describe(current_revision(store), head_revision())


def _describe(current: str | None, head: str) -> tuple[str, bool] | None:
    if current == head:
        return None
    if current is None or known_revision(current):
        at = current or "none (an empty database)"
        return (
            f"the database schema is at {at}, billfold needs {head}: "
            "run `billfold db upgrade`",
            True,
        )
    return (
        f"the database schema is at {current}, which this billfold ({head}) does not "
        "know: a newer billfold upgraded it; install that release here",
        False,
    )


def check_current(store: Store) -> None:
    """Raise SchemaNotCurrent (one line) unless the store's schema is this billfold's."""
    problem = schema_problem(store)
    if problem is not None:
        raise SchemaNotCurrent(problem[0])


def upgrade(store: Store) -> tuple[str | None, str]:
    """Migrate *store* to the newest schema; return (revision before, revision after).

    Several processes may call this at once: the first migrates, the others wait for
    it (PostgreSQL: an advisory lock; SQLite: the write lock) and then find nothing to
    do. *before* is read under the lock, so exactly one of them reports a migration.
    """
    config = alembic_config(store)
    with store._translate(), store.engine.connect() as conn:
        conn = conn.execution_options(billfold_write=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if store.dialect == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                )
            before = MigrationContext.configure(conn).get_current_revision()
            if before is not None and not known_revision(before):
                raise SchemaNotCurrent(_describe(before, head_revision())[0])  # type: ignore[index]  # an unknown revision is never the head, so _describe returns a tuple
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    return before, head_revision()


def ensure_current(store: Store) -> None:
    """Migrate the embedded store on first use; require ``db upgrade`` for any other.

    The CLI calls this before a command uses the store. SQLite is one machine's own
    file: migrating it in place is what its operator expects. A shared database is
    migrated when its operator says so, once, before the new release starts.
    """
    problem = schema_problem(store)
    if problem is None:
        return
    line, cured_by_upgrade = problem
    if store.is_sqlite and cured_by_upgrade:
        upgrade(store)
        return
    raise SchemaNotCurrent(line)
