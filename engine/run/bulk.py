"""Bulk reads and writes for the tick's hot path: rows as tuples, one executemany per shape.

On SQLite the per-row work of SQLAlchemy's type processing costs more than the database
itself, so there we hand plain tuples to the driver and convert only the columns whose type
needs it, with the same stored forms SQLAlchemy uses (DATETIME text with microseconds, DATE
text, Numeric as REAL, JSON text). PostgreSQL's driver returns and takes Python types itself;
there each write is one set-based statement per batch: the rows travel as one array per column
and `unnest` turns them back into rows (`INSERT ... SELECT * FROM unnest(...)`, `UPDATE ... FROM
unnest(...)`). SQLAlchemy's psycopg2 dialect would send an executemany UPDATE row by row, one
round trip each (bench/README.md has the figures).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import repeat
from operator import is_
from typing import Any

from sqlalchemy import JSON, Date, DateTime, LargeBinary, Numeric, Table, bindparam, insert, update
from sqlalchemy.engine import Connection

from engine.core.clock import naive_utc
from engine.storage.db import dumps

Convert = Callable[[Any], Any]
_SQL: dict[tuple[str, str, tuple[str, ...]], str] = {}
_PG_SQL: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[Convert | None, ...]]] = {}


def sqlite_datetime(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text ('2026-01-12 14:01:00.000000') of naive UTC.

    Aware values are stored as UTC. Slicing off the '+00:00' is much cheaper than
    `replace(tzinfo=None)`, which matters at a few hundred thousand values per tick.
    """
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def aware_utc(text: str) -> datetime:
    """A stored naive-UTC DATETIME text read back as an aware UTC datetime."""
    return datetime.fromisoformat(text + "+00:00")


def _sqlite_date(value: date) -> str:
    return value.isoformat()


def _decimal_reader(scale: int) -> Convert:
    """REAL back to Decimal as SQLAlchemy does it: formatted to the column's scale."""
    pattern = f"%.{scale}f"
    return lambda value: Decimal(pattern % value)


def _json_reader(text: str) -> Any:
    # Most JSON columns of a case hold '{}': skip the parser for them.
    return {} if text == "{}" else json.loads(text)


def sqlite_reader(table: Table, name: str) -> Convert | None:
    """How to turn a raw SQLite value of this column into its Python value (None: as it is)."""
    column_type = table.c[name].type
    if isinstance(column_type, DateTime):
        return datetime.fromisoformat
    if isinstance(column_type, Date):
        return date.fromisoformat
    if isinstance(column_type, Numeric) and column_type.asdecimal:
        return _decimal_reader(column_type.scale or 0)
    if isinstance(column_type, JSON):
        return _json_reader
    return None


def sqlite_writer(table: Table, name: str) -> Convert | None:
    """How to turn a Python value of this column into what SQLite stores (None: as it is)."""
    column_type = table.c[name].type
    if isinstance(column_type, DateTime):
        return sqlite_datetime
    if isinstance(column_type, Date):
        return _sqlite_date
    if isinstance(column_type, Numeric):
        return float
    if isinstance(column_type, JSON):
        return dumps
    if isinstance(column_type, LargeBinary):
        # pysqlite binds int, float, str and bytearray as they are, but looks bytes up in its
        # adapter registry first (about 1 µs a value): audit hashes are two per row.
        return bytearray
    return None


def decode(rows: Sequence[Sequence[Any]], readers: Sequence[Convert | None]) -> list[list[Any]]:
    """Raw driver rows with each column converted by its reader; NULL stays None."""
    converted = [(i, read) for i, read in enumerate(readers) if read is not None]
    out = []
    for raw in rows:
        values = list(raw)
        for i, read in converted:
            value = values[i]
            if value is not None:
                values[i] = read(value)
        out.append(values)
    return out


def _encode(
    table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """Rows of Python values in SQLite's stored forms, converting only the columns that need it.

    Works column by column: a batch's rows share many value objects (its one timestamp, the
    detail dict of one rule's audit rows, a timer written as both timer_at and due_at), and a
    shared object converts once.
    """
    converted = [
        (i, write) for i, name in enumerate(columns) if (write := sqlite_writer(table, name))
    ]
    if not converted:
        return [tuple(row) for row in rows]
    table_columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    memos: dict[Convert, dict[int, Any]] = {}  # per conversion; ids are safe while rows live
    for i, write in converted:
        values = table_columns[i]
        first = values[0]
        if all(map(is_, values, repeat(first))):  # one object (or all NULL): an identity test in C
            table_columns[i] = (None if first is None else write(first),) * len(values)
            continue
        if write is bytearray:  # hashes: every value its own, nothing to share
            table_columns[i] = [value if value is None else bytearray(value) for value in values]
            continue
        memo = memos.setdefault(write, {})
        out = []
        for value in values:
            if value is not None:
                key = id(value)
                stored = memo.get(key)
                if stored is None:
                    stored = memo[key] = write(value)
                value = stored
            out.append(value)
        table_columns[i] = out
    return list(zip(*table_columns, strict=True))


def _naive_utc(row: Sequence[Any]) -> list[Any]:
    """Aware datetimes as naive UTC, the form stored in TIMESTAMP WITHOUT TIME ZONE columns."""
    return [naive_utc(v) if isinstance(v, datetime) and v.tzinfo else v for v in row]


def _pg_writer(table: Table, name: str) -> Convert | None:
    """How a Python value of this column goes into a PostgreSQL array (None: as it is)."""
    column_type = table.c[name].type
    if isinstance(column_type, DateTime):
        return naive_utc  # TIMESTAMP WITHOUT TIME ZONE holds naive UTC
    if isinstance(column_type, JSON):
        return dumps  # an array of JSON text, cast to json[]
    return None


def _pg_sql(
    kind: str, connection: Connection, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[Convert | None, ...]]:
    """The set-based statement for these columns and each column's conversion."""
    key = (kind, table.name, columns)
    found = _PG_SQL.get(key)
    if found is None:
        dialect = connection.dialect
        arrays = ", ".join(f"%s::{table.c[c].type.compile(dialect=dialect)}[]" for c in columns)
        if kind == "insert":
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        else:
            assignments = ", ".join(f"{c} = v.{c}" for c in columns[1:])
            sql = (
                f"UPDATE {table.name} SET {assignments} FROM unnest({arrays}) "
                f"AS v({', '.join(columns)}) WHERE {table.name}.id = v.id"
            )
        found = _PG_SQL[key] = (sql, tuple(_pg_writer(table, c) for c in columns))
    return found


def _pg_execute(
    kind: str,
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
) -> None:
    """One statement for all rows: a list per column, NULL staying None."""
    sql, writers = _pg_sql(kind, connection, table, columns)
    arrays: list[list[Any]] = []
    for write, values in zip(writers, zip(*rows, strict=True), strict=True):
        if write is None:
            arrays.append(list(values))
            continue
        memo: dict[int, Any] = {}  # a batch shares its timestamp and detail objects
        out = []
        for value in values:
            if value is not None:
                key = id(value)
                stored = memo.get(key)
                if stored is None:
                    stored = memo[key] = write(value)
                value = stored
            out.append(value)
        arrays.append(out)
    with connection.connection.cursor() as cursor:  # the DBAPI cursor, in our transaction
        cursor.execute(sql, arrays)


def _sql(kind: str, table: Table, columns: tuple[str, ...]) -> str:
    key = (kind, table.name, columns)
    sql = _SQL.get(key)
    if sql is None:
        if kind == "insert":
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
        else:
            assignments = ", ".join(f"{c} = ?" for c in columns[1:])
            sql = f"UPDATE {table.name} SET {assignments} WHERE {columns[0]} = ?"
        _SQL[key] = sql
    return sql


def insert_rows(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT rows given as value sequences in `columns` order."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        _pg_execute("insert", connection, table, columns, rows)
        return
    if connection.dialect.name != "sqlite":
        dicts = [dict(zip(columns, _naive_utc(row), strict=True)) for row in rows]
        connection.execute(insert(table).execution_options(render_nulls=True), dicts)
        return
    connection.exec_driver_sql(_sql("insert", table, columns), _encode(table, columns, rows))


def update_rows(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """UPDATE rows by primary key: `columns[0]` is `id`, every row's first value its id."""
    if not rows:
        return
    if columns[0] != "id":
        raise ValueError("update_rows needs 'id' as the first column")
    if connection.dialect.name == "postgresql":
        _pg_execute("update", connection, table, columns, rows)
        return
    if connection.dialect.name != "sqlite":
        stmt = update(table).where(table.c.id == bindparam("b_id"))
        connection.execute(
            stmt.values({c: bindparam(c) for c in columns[1:]}),
            [
                {"b_id": row[0], **dict(zip(columns[1:], _naive_utc(row[1:]), strict=True))}
                for row in rows
            ],
        )
        return
    # The id moves last, to the WHERE clause's place.
    encoded = _encode(table, columns, rows)
    connection.exec_driver_sql(
        _sql("update", table, columns), [(*row[1:], row[0]) for row in encoded]
    )
