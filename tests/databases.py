"""Fresh, empty databases for tests of what happens before anything is migrated.

On the SQLite leg a new file; on the PostgreSQL leg (``BILLFOLD_TEST_DATABASE``) a new
database on the same server (``fresh_database``), or a new schema in the test database
(``fresh_schema``): nothing in it, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from sync.store import Store
from tests.conftest import TEST_DATABASE


def on_postgres() -> bool:
    return TEST_DATABASE.startswith("postgresql")


def _server_url(database: str) -> str:
    url = make_url(TEST_DATABASE).set(database=database)
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database (SQLite: a file in *folder*)."""
    if not on_postgres():
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / 'billfold.db'}"
        return
    name = f"billfold_{uuid.uuid4().hex[:12]}"
    admin = Store(_server_url("postgres"))
    with admin.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text(f'CREATE DATABASE "{name}"')
        )
    try:
        yield _server_url(name)
    finally:
        with admin.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
        admin.dispose()


def schema_url(base: str, schema: str) -> str:
    """Return *base* with its search_path set to *schema*."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def fresh_schema(folder: Path) -> Iterator[str]:
    """Yield the URL of a new, empty schema in the test database (SQLite: a file)."""
    if not on_postgres():
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / 'billfold.db'}"
        return
    name = f"f_{uuid.uuid4().hex[:12]}"
    admin = Store(TEST_DATABASE)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield schema_url(TEST_DATABASE, name)
    finally:
        with admin.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()
