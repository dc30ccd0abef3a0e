"""The store: one database (SQLite by default, PostgreSQL at scale) and its transactions.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed import survives power
loss), a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for every write so a
writer takes the lock before it reads (a deferred read-then-write upgrade can fail with
SQLITE_BUSY no timeout can cure). On PostgreSQL, writers that change the ledger take one
transaction-scoped advisory lock, so imports and paid marks apply one at a time on every
backend, exactly as on SQLite.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from sync.config import Settings
from sync.errors import StoreError
from sync.store.permissions import private_file, tighten

_WRITE_LOCK_KEY = 0x0B1F_01D0  # arbitrary, constant: "billfold ledger writer"
BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(busy_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        # The driver's own transaction handling is off; billfold emits BEGIN itself so
        # that writers can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return on_connect


def _private_sqlite_files(path: Path) -> None:
    """Create the database file 0600 in a 0700 folder before SQLite opens it.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so they are
    0600 too; ones left by an older release are tightened here with the file.
    """
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix))


def _sqlite_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("billfold_write") else ""
    conn.exec_driver_sql(f"BEGIN {mode}".strip())


def _sqlite_synchronous(conn: Connection, mode: str) -> None:
    """Set SQLite's ``synchronous`` on the driver's connection, outside a transaction
    (through SQLAlchemy, the statement would open one, and take the write lock)."""
    driver = conn.connection.driver_connection
    assert driver is not None  # a checked-out connection always has one
    driver.execute(f"PRAGMA synchronous = {mode}")


class Store:
    """The database billfold keeps its ledger in."""

    def __init__(
        self, url: str, *, echo: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        kwargs: dict = {"echo": echo}
        if url.startswith("sqlite"):
            path = url.partition("///")[2].partition("?")[0]
            if path and path != ":memory:":
                _private_sqlite_files(Path(path))
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        self.engine: Engine = create_engine(url, **kwargs)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas(busy_timeout_ms))
            event.listen(self.engine, "begin", _sqlite_begin)

    @property
    def is_sqlite(self) -> bool:
        """True when the store is an embedded SQLite file."""
        return self.dialect == "sqlite"

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """Yield a connection in a read transaction."""
        with self._translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(
        self, *, ledger: bool = True, durable: bool = True
    ) -> Iterator[Connection]:
        """Yield a connection in a write transaction.

        Everything done inside commits together or not at all. ``ledger=True`` (imports,
        paid marks) also takes the ledger lock, so ledger writers apply one at a time;
        sign-ins, sessions and audit events pass ``ledger=False`` and never wait for an
        import on PostgreSQL. (SQLite has one writer at a time whatever the lock.)

        ``durable=False`` (a customer's page view in the audit log) commits without
        waiting for the disk: SQLite's ``synchronous=NORMAL`` for this one commit (WAL),
        PostgreSQL's ``synchronous_commit = off``. The store stays consistent; a power
        cut may lose the last such commits, never half of one, never anything else.
        """
        with self._translate(), self.engine.connect() as conn:
            conn = conn.execution_options(billfold_write=True)
            lazy = not durable and self.dialect == "sqlite"
            if lazy:
                _sqlite_synchronous(conn, "NORMAL")
            try:
                with conn.begin():
                    if self.dialect == "postgresql":
                        # Wait for other writers no longer than SQLite would.
                        conn.exec_driver_sql(
                            f"SET LOCAL lock_timeout = {int(self.busy_timeout_ms)}"
                        )
                        if not durable:
                            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    if ledger and self.dialect == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:k)"),
                            {"k": _WRITE_LOCK_KEY},
                        )
                    yield conn
            finally:
                if lazy and not conn.invalidated:  # back to the pool as others: FULL
                    _sqlite_synchronous(conn, "FULL")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """Yield an ORM session for small reads and admin writes (not for imports)."""
        with self._translate(), Session(self.engine) as session:
            yield session

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            message = str(exc.orig) if exc.orig is not None else str(exc)
            if "locked" in message or "busy" in message or "lock timeout" in message:
                raise StoreError(
                    f"the database is locked by another program ({message}); billfold "
                    f"waited {self.busy_timeout_ms / 1000:g} s. Try again when it "
                    "has finished"
                ) from exc
            if "no such table" in message or "does not exist" in message:
                raise StoreError(
                    f"the database has no billfold tables ({message}); run "
                    "`billfold db upgrade`"
                ) from exc
            raise StoreError(f"database error: {message}") from exc

    def ping(self) -> None:
        """Raise unless the database answers a trivial query (``/readyz``)."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(settings: Settings) -> Store:
    """Return a Store for *settings* (not migrated: ``sync.store.migrate``)."""
    return Store(
        settings.resolved_database_url,
        busy_timeout_ms=settings.busy_timeout_seconds * 1000,
    )
