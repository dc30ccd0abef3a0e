"""Shared fixtures: a real store per test, on SQLite or on PostgreSQL.

The database is chosen by ``BILLFOLD_TEST_DATABASE``:

* unset or ``sqlite``: each test gets its own SQLite file, copied from a template
  migrated once per session;
* a ``postgresql://`` URL: the session creates its own schema in that database, migrates
  it once, and each test starts from empty tables. If the server cannot be reached the
  session fails: in CI a missing PostgreSQL is an error, never a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.util import LRUCache

import sync.store
from sync.config import Settings, load_settings
from sync.store import Store
from sync.store.migrate import upgrade
from tests import suite_rules
from tests.suite_rules import (  # noqa: F401  (hooks: nothing skips; 'alone' tests)
    pytest_collectreport,
    pytest_configure,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_exports"
TEST_DATABASE = os.environ.get("BILLFOLD_TEST_DATABASE", "sqlite")


def pytest_addoption(parser: pytest.Parser) -> None:
    suite_rules.pytest_addoption(parser)
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files beside the sample exports instead of comparing",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    alone = suite_rules.pytest_report_header(config)
    return [f"billfold test database: {TEST_DATABASE}", *([alone] if alone else [])]


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Tests of one database's behaviour run in that database's leg only (deselected,
    and counted as such, in the other; never skipped)."""
    other = "postgres_only" if TEST_DATABASE == "sqlite" else "sqlite_only"
    keep = [item for item in items if other not in item.keywords]
    dropped = [item for item in items if other in item.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    suite_rules.pytest_collection_modifyitems(config, items)


def _same_dialect(self: DefaultDialect, other: object) -> bool:
    return (
        type(self) is type(other)
        and isinstance(other, DefaultDialect)
        and (self.paramstyle, self.label_length, self.server_version_info)
        == (other.paramstyle, other.label_length, other.server_version_info)
    )


@pytest.fixture(scope="session", autouse=True)
def shared_compiled_statements() -> Iterator[None]:
    """Every store a test process opens shares one cache of compiled SQL.

    The suite opens a store (an engine) per test, and SQLAlchemy keys its cache of
    compiled statements by the engine's dialect object, so each test compiled every
    statement it ran again: a quarter of the suite's time, measured. Here the engines
    share one cache (SQLAlchemy's ``compiled_cache`` option) and dialects of one kind,
    talking to one server version, count as the same. The SQL is what each engine
    would have compiled for itself; the product keeps one engine per process.
    """
    cache = LRUCache(20_000)

    def create_engine(url: str, **kwargs: object) -> sqlalchemy.Engine:
        options = {"compiled_cache": cache}
        return sqlalchemy.create_engine(url, execution_options=options, **kwargs)  # type: ignore[call-overload]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sync.store, "create_engine", create_engine)
        patch.setattr(DefaultDialect, "__eq__", _same_dialect)
        patch.setattr(DefaultDialect, "__hash__", lambda self: hash(type(self)))
        yield


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


class _Database:
    """Hands out an empty, migrated store per test."""

    def url_for(self, tmp_path: Path) -> str:
        raise NotImplementedError  # pragma: no cover

    def reset(self, store: Store) -> None:  # pragma: no cover - overridden
        pass

    def snapshot(self, store: Store) -> object:  # pragma: no cover - overridden
        """Keep what *store* holds now; ``restore`` puts it in another test's store."""
        raise NotImplementedError

    def restore(self, snapshot: object, store: Store) -> None:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden
        pass


class _SqliteDatabase(_Database):
    def __init__(self, workdir: Path) -> None:
        self.template = workdir / "template.db"
        store = Store(f"sqlite:///{self.template}")
        upgrade(store)
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.dispose()

    def url_for(self, tmp_path: Path) -> str:
        path = tmp_path / "billfold.db"
        if not path.exists():
            shutil.copyfile(self.template, path)
            path.chmod(0o600)  # as billfold makes it (else each test logs a warning)
        return f"sqlite:///{path}"

    def reset(self, store: Store) -> None:
        with store.engine.begin() as conn:
            tables = [
                row[0]
                for row in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT IN ('alembic_version', 'sqlite_sequence')"
                )
            ]
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            for table in tables:
                conn.exec_driver_sql(f'DELETE FROM "{table}"')

    def snapshot(self, store: Store) -> object:
        """The store's own file, checkpointed (*store* is not used again)."""
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.dispose()
        return Path(store.engine.url.database or "")

    def restore(self, snapshot: object, store: Store) -> None:
        assert isinstance(snapshot, Path)
        store.dispose()
        target = Path(store.engine.url.database or "")
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(snapshot, target)


class _PostgresDatabase(_Database):
    def __init__(self, url: str) -> None:
        self.schema = f"t_{uuid.uuid4().hex[:12]}"
        self.snapshots: list[str] = []
        self.admin = Store(url)
        try:
            with self.admin.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        except Exception as exc:
            raise RuntimeError(
                f"BILLFOLD_TEST_DATABASE={url} but PostgreSQL cannot be used: {exc}. "
                "Start it (see README, 'Running the tests') or unset the variable."
            ) from exc
        sep = "&" if "?" in url else "?"
        self.url = f"{url}{sep}options=-csearch_path%3D{self.schema}"
        store = Store(self.url)
        upgrade(store)
        with store.engine.connect() as conn:
            self.tables = [
                row[0]
                for row in conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = :s "
                        "AND tablename <> 'alembic_version'"
                    ),
                    {"s": self.schema},
                )
            ]
            self.sequences = list(
                conn.execute(
                    text("SELECT sequencename FROM pg_sequences WHERE schemaname = :s"),
                    {"s": self.schema},
                ).scalars()
            )
        store.dispose()

    def url_for(self, tmp_path: Path) -> str:
        return self.url

    def reset(self, store: Store) -> None:
        self._run(store, self._emptied())

    def _emptied(self) -> list[str]:
        """Empty every table and restart every sequence. DELETE, not TRUNCATE: on a
        handful of rows it is fifty times quicker (TRUNCATE makes new files for each
        table and index); no foreign key is checked as every table is emptied."""
        return [
            "SET LOCAL session_replication_role = replica",
            *(f'DELETE FROM "{table}"' for table in self.tables),
            *(f"SELECT setval('\"{s}\"', 1, false)" for s in self.sequences),
        ]

    @staticmethod
    def _run(store: Store, statements: list[str]) -> None:
        """Run *statements* in one transaction and one round trip."""
        with store.engine.begin() as conn:
            conn.exec_driver_sql(";\n".join(statements))

    def snapshot(self, store: Store) -> object:
        """Copies of the session schema's tables, and its sequences' positions."""
        name = f"{self.schema}_s{len(self.snapshots)}"
        self.snapshots.append(name)
        with store.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
            for table in self.tables:
                conn.execute(
                    text(f'CREATE TABLE "{name}"."{table}" AS TABLE "{table}"')
                )
            sequences = conn.execute(
                text(
                    "SELECT sequencename, last_value FROM pg_sequences "
                    "WHERE schemaname = :s"
                ),
                {"s": self.schema},
            ).all()
        return name, [tuple(row) for row in sequences]

    def restore(self, snapshot: object, store: Store) -> None:
        name, sequences = snapshot  # type: ignore[misc]
        # Rows go back as they were: foreign keys were satisfied when they were kept.
        self._run(
            store,
            [
                *self._emptied(),
                *(
                    f'INSERT INTO "{table}" SELECT * FROM "{name}"."{table}"'
                    for table in self.tables
                ),
                *(
                    f"SELECT setval('\"{sequence}\"', {int(value or 1)}, "
                    f"{'true' if value is not None else 'false'})"
                    for sequence, value in sequences
                ),
            ],
        )

    def close(self) -> None:
        with self.admin.engine.begin() as conn:
            for name in [*self.snapshots, self.schema]:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Database]:
    if TEST_DATABASE.startswith("postgresql"):
        db: _Database = _PostgresDatabase(TEST_DATABASE)
    elif TEST_DATABASE == "sqlite":
        db = _SqliteDatabase(tmp_path_factory.mktemp("sqlite-template"))
    else:
        raise RuntimeError(
            f"BILLFOLD_TEST_DATABASE must be 'sqlite' or a postgresql:// URL, not {TEST_DATABASE!r}"
        )
    yield db
    db.close()


@pytest.fixture
def settings(tmp_path: Path, database: _Database) -> Settings:
    base = load_settings(None, env={})
    return replace(
        base,
        data_dir=tmp_path / "data",
        database_url=database.url_for(tmp_path),
        secret_key="test-secret-key",
    )


@pytest.fixture
def store(settings: Settings, database: _Database) -> Iterator[Store]:
    s = Store(settings.resolved_database_url)
    if not s.is_sqlite:  # a fresh SQLite file is already empty
        database.reset(s)
    yield s
    s.dispose()


@pytest.fixture
def is_postgres() -> bool:
    return TEST_DATABASE.startswith("postgresql")
