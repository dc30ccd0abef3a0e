"""Set-based SQL for the import path: many rows per statement, no ORM objects.

An import writes hundreds of thousands of rows; building an ORM object per row costs
more than the database write itself (research/LIMITS.md). These helpers take the typed
table constants of ``schemas.tables`` and send many rows per statement: Core
``insert``/``update``/``delete`` (one compiled statement, ``executemany``), and
PostgreSQL's ``COPY`` for inserts. Values are converted by the statement's own column
types (SQLAlchemy's on SQLite, psycopg's in ``COPY``); no driver adapter is patched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Table,
    Update,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

IN_CHUNK = 500


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """Reserve *count* primary keys of *table* for rows about to be inserted.

    On SQLite the caller holds the write lock (BEGIN IMMEDIATE), so the next ids after
    the current maximum are free; on PostgreSQL they come from the table's sequence.
    """
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        rows = conn.execute(
            select(func.nextval(sequence)).select_from(
                func.generate_series(1, int(count))
            )
        )
        return [r[0] for r in rows]
    top: int = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(top + 1, top + 1 + count))


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Insert *rows* (tuples in *columns* order) into *table*."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
        target = conn.dialect.identifier_preparer.format_table(table)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # an open Connection always holds its DBAPI connection
        with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    statement = insert(table).values({c: bindparam(f"v_{c}") for c in columns})
    keys = [f"v_{c}" for c in columns]
    _executemany(conn, statement, keys, [table.c[c] for c in columns], rows)


def _executemany(
    conn: Connection,
    statement: Insert | Update,
    keys: Sequence[str],
    columns: Sequence[ColumnElement[Any]],
    rows: Sequence[tuple],
) -> None:
    """Run the Core *statement* once per row; each row holds the parameters *keys* in
    order, values of *columns*.

    The statement is compiled once and sent with plain tuples (``executemany``): no
    dict per row. Each value is converted by its column's type, as SQLAlchemy would
    (dates become the text SQLite stores; PostgreSQL's driver takes them as they are).
    """
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect)
    names = list(compiled.positiontup or compiled.bind_names.values())
    if sorted(names) != sorted(keys):
        # A column with a default left out of an insert would need a value per row.
        raise ValueError(f"the statement takes {names}, the rows carry {list(keys)}")
    at = [keys.index(name) for name in names]
    processors = [columns[i].type.bind_processor(dialect) for i in at]
    if rows and at != sorted(at):
        # The statement's order: one C-level getter per row, no Python loop per value
        # (an import sends hundreds of thousands of rows).
        rows = (
            [(row[at[0]],) for row in rows]
            if len(at) == 1
            else list(map(itemgetter(*at), rows))
        )
    if rows and any(processors):
        # A column at a time: only the values that need it go through a processor.
        by_column = list(zip(*rows, strict=True))
        rows = list(
            zip(
                *(
                    column if p is None else list(map(p, column))
                    for column, p in zip(by_column, processors, strict=True)
                ),
                strict=True,
            )
        )
    if compiled.positional:
        conn.exec_driver_sql(str(compiled), list(rows))
    else:
        conn.exec_driver_sql(
            str(compiled), [dict(zip(names, row, strict=True)) for row in rows]
        )


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

    def grew(self, table: Table, rows: int) -> None:
        """Note that *rows* rows were written to *table*; analyse it when due."""
        if not self.active or not rows:
            return
        name = table.name
        written = self.written[name] = self.written.get(name, 0) + rows
        if written >= self.next.get(name, self.FIRST):
            target = self.conn.dialect.identifier_preparer.format_table(table)
            self.conn.exec_driver_sql(f"ANALYZE {target}")
            self.next[name] = 2 * written


def update_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Update rows of *table* by id; each row is ``(*values in columns order, id)``."""
    if not rows:
        return
    statement = (
        update(table)
        .values({c: bindparam(f"v_{c}") for c in columns})
        .where(table.c.id == bindparam("row_id"))
    )
    keys = [*(f"v_{c}" for c in columns), "row_id"]
    columns_ = [*(table.c[c] for c in columns), table.c.id]
    _executemany(conn, statement, keys, columns_, rows)


def delete_where_in(
    conn: Connection, table: Table, column: str, values: Iterable[Any]
) -> None:
    """Delete the rows of *table* whose *column* is one of *values*."""
    statement = delete(table).where(
        table.c[column].in_(bindparam("values", expanding=True))
    )
    for chunk in chunked(list(values), IN_CHUNK):
        conn.execute(statement, {"values": list(chunk)})


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
