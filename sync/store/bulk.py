"""Set-based SQL for the import path: many rows per statement, no ORM objects.

An import writes hundreds of thousands of rows; building an ORM object per row costs
more than the database write itself (research/LIMITS.md). These helpers send plain
tuples straight to the driver: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select

IN_CHUNK = 500


# Dates go to SQLite in the same text forms SQLAlchemy's SQLite types read back. The
# driver converts them as it binds, which costs a tenth of rebuilding every row tuple in
# Python; registering replaces the stdlib's default adapters (deprecated since 3.12).
sqlite3.register_adapter(datetime, lambda value: value.isoformat(sep=" "))
sqlite3.register_adapter(date, lambda value: value.isoformat())


def allocate_ids(conn: Connection, table: str, count: int) -> list[int]:
    """Reserve *count* primary keys of *table* for rows about to be inserted.

    On SQLite the caller holds the write lock (BEGIN IMMEDIATE), so the next ids after
    the current maximum are free; on PostgreSQL they come from the table's sequence.
    """
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
            f"FROM generate_series(1, {int(count)})"
        )
        return [r[0] for r in rows]
    top: int = conn.exec_driver_sql(
        f"SELECT coalesce(max(id), 0) FROM {table}"
    ).scalar_one()
    return list(range(top + 1, top + 1 + count))


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Insert *rows* (tuples in *columns* order) into *table*."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # an open Connection always holds its DBAPI connection
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))


class PlannerStatistics:
    """Keeps PostgreSQL's planner statistics in step with tables one import is filling.

    A fresh store has no statistics, so PostgreSQL estimates that a 500-key ``IN`` list
    matches most of the table and scans it whole; a first import of 100k invoices then
    pays a full scan per chunk. Analysing a table whenever this transaction has doubled
    what it wrote there (ANALYZE sees the transaction's own rows) keeps lookups on the
    index at the cost of a few sampled passes. SQLite plans by its indexes alone.
    """

    FIRST = 2 * IN_CHUNK

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.active = conn.dialect.name == "postgresql"
        self.written: dict[str, int] = {}
        self.next: dict[str, int] = {}

    def grew(self, table: str, rows: int) -> None:
        """Note that *rows* rows were written to *table*; analyse it when due."""
        if not self.active or not rows:
            return
        written = self.written[table] = self.written.get(table, 0) + rows
        if written >= self.next.get(table, self.FIRST):
            self.conn.exec_driver_sql(f"ANALYZE {table}")
            self.next[table] = 2 * written


def update_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Update rows of *table* by id; each row is ``(*values in columns order, id)``."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        sets = ", ".join(f"{c} = %s" for c in columns)
        conn.exec_driver_sql(f"UPDATE {table} SET {sets} WHERE id = %s", list(rows))
        return
    sets = ", ".join(f"{c} = ?" for c in columns)
    conn.exec_driver_sql(f"UPDATE {table} SET {sets} WHERE id = ?", list(rows))


def delete_where_in(
    conn: Connection, table: str, column: str, values: Iterable[Any]
) -> None:
    """Delete the rows of *table* whose *column* is one of *values*."""
    for chunk in chunked(list(values), IN_CHUNK):
        marks = ", ".join(_mark(conn) for _ in chunk)
        conn.exec_driver_sql(
            f"DELETE FROM {table} WHERE {column} IN ({marks})", tuple(chunk)
        )


def _mark(conn: Connection) -> str:
    return "%s" if conn.dialect.name == "postgresql" else "?"


def select_in(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    key_column: str,
    keys: Iterable[Any],
    **equal: Any,
) -> Iterator[Any]:
    """Yield rows of *table* whose *key_column* is in *keys* (and other columns equal)."""
    stmt = select(*(table.c[c] for c in columns)).where(
        table.c[key_column].in_(bindparam("keys", expanding=True)),
        *(table.c[k] == v for k, v in equal.items()),
    )
    for chunk in chunked(list(keys), IN_CHUNK):
        yield from conn.execute(stmt, {"keys": chunk})


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Yield consecutive slices of *items* of at most *size*."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
