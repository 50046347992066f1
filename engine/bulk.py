"""Bulk writes for the tick's hot path: one executemany per statement shape.

On SQLite the ORM's per-row parameter handling costs more than the database itself, so we
compile each statement shape once, apply the dialect's own bind processors to each value (the
same conversions SQLAlchemy would make) and hand the rows to the driver's executemany. Other
databases take SQLAlchemy's Core path, which batches with insertmanyvalues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Table, bindparam, insert, update
from sqlalchemy.engine import Connection

_Compiled = tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...]]
_CACHE: dict[tuple[str, str, str, tuple[str, ...]], _Compiled] = {}


def _compile(
    connection: Connection, table: Table, kind: str, columns: tuple[str, ...]
) -> _Compiled:
    dialect = connection.dialect
    key = (dialect.name, table.name, kind, columns)
    found = _CACHE.get(key)
    if found is None:
        if kind == "insert":
            stmt: Any = insert(table)
            keys = list(columns)
        else:
            stmt = update(table).where(table.c.id == bindparam("b_id"))
            keys = [c for c in columns if c != "id"]
        compiled = stmt.compile(dialect=dialect, column_keys=keys)
        order = tuple(compiled.positiontup or ())
        processors = tuple(
            None if name == "b_id" else table.c[name].type._cached_bind_processor(dialect)
            for name in order
        )
        found = (str(compiled), order, processors)
        _CACHE[key] = found
    return found


def _sqlite_datetime(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text ('2026-01-12 14:01:00.000000'), made faster."""
    text = value.isoformat(" ")
    return text if len(text) > 19 else text + ".000000"


def _processor(table: Table, name: str, dialect: Any) -> Callable[[Any], Any] | None:
    column_type = table.c[name].type
    if dialect.name == "sqlite" and isinstance(column_type, DateTime):
        return _sqlite_datetime
    return column_type._cached_bind_processor(dialect)


def _rows(
    order: tuple[str, ...],
    processors: tuple[Any, ...],
    rows: Sequence[dict[str, Any]],
    rename: dict[str, str],
) -> list[tuple[Any, ...]]:
    """Each row's values in statement order, converted only where the column type needs it."""
    names = [rename.get(name, name) for name in order]
    converted = [(i, proc) for i, proc in enumerate(processors) if proc is not None]
    out = []
    for row in rows:
        values = [row[name] for name in names]
        for i, proc in converted:
            if values[i] is not None:
                values[i] = proc(values[i])
        out.append(tuple(values))
    return out


def insert_many(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows that all have the same keys."""
    if not rows:
        return
    if connection.dialect.name != "sqlite":
        connection.execute(insert(table).execution_options(render_nulls=True), list(rows))
        return
    sql, order, processors = _compile(connection, table, "insert", tuple(rows[0]))
    connection.exec_driver_sql(sql, _rows(order, processors, rows, {}))


def update_many(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE rows by primary key `id`; every row has the same keys."""
    if not rows:
        return
    if connection.dialect.name != "sqlite":
        stmt = update(table).where(table.c.id == bindparam("b_id"))
        connection.execute(
            stmt.values({c: bindparam(c) for c in rows[0] if c != "id"}),
            [{**r, "b_id": r["id"]} for r in rows],
        )
        return
    sql, order, processors = _compile(connection, table, "update", tuple(rows[0]))
    connection.exec_driver_sql(sql, _rows(order, processors, rows, {"b_id": "id"}))
