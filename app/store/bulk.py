"""Bulk writes for the ingest hot path: many rows, one statement, little per-row machinery.

SQLAlchemy's executemany runs every value of every row through its bind processors and
parameter assembly, which measured about as costly as SQLite's own insert. On SQLite these
helpers hand the driver plain tuples instead: times in SQLAlchemy's exact text (they are compared
as text), JSON by orjson (read back by SQLAlchemy like its own). PostgreSQL keeps SQLAlchemy's
path, where asyncpg's own encoding dominates anyway.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Table, bindparam, insert, update
from sqlalchemy.engine import Connection

_Convert = Callable[[Any], Any]


@lru_cache(maxsize=1024)  # a batch's rows share a few times (its `now`, a monitor's startsAt)
def sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text of the UTC time (`2026-11-27 23:49:08.123456`)."""
    if value is None:
        return None
    if value.utcoffset():  # equal instants are one cache entry: they must read the same
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def sqlite_json(value: Any) -> str:
    """JSON text SQLAlchemy reads back as it reads its own (None → `null`, as it writes it)."""
    return orjson.dumps(value).decode()


def _converter(column_type: Any) -> _Convert | None:
    if isinstance(column_type, DateTime):
        return sqlite_datetime
    if isinstance(column_type, JSON):
        return sqlite_json
    return None


@cache
def _plan(table: Table, names: tuple[str, ...]) -> tuple[str, tuple[_Convert | None, ...]]:
    columns = [table.c[name] for name in names]
    marks = ", ".join("?" for _ in names)
    # Identifiers come from the table's metadata (`table.c[name]` refuses any other).
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608 - metadata names
    return sql, tuple(_converter(column.type) for column in columns)


def _tuples(
    rows: Sequence[dict[str, Any]], names: tuple[str, ...], converters: tuple[_Convert | None, ...]
) -> list[tuple[Any, ...]]:
    # itemgetter pulls a row's values in C; only the columns that need it are converted.
    values_of = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    to_convert = [(i, convert) for i, convert in enumerate(converters) if convert is not None]
    converted = []
    for row in rows:
        values = list(values_of(row))
        for i, convert in to_convert:
            values[i] = convert(values[i])
        converted.append(tuple(values))
    return converted


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows that all carry the same keys, in one executemany."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), list(rows))
        return
    names = tuple(rows[0])
    sql, converters = _plan(table, names)
    conn.exec_driver_sql(sql, _tuples(rows, names, converters))


@cache
def _update_plan(table: Table, names: tuple[str, ...]) -> tuple[str, tuple[_Convert | None, ...]]:
    assignments = ", ".join(f"{name} = ?" for name in names)
    converters = tuple(_converter(table.c[name].type) for name in names)
    sql = f"UPDATE {table.name} SET {assignments} WHERE id = ?"  # noqa: S608 - metadata names
    return sql, (*converters, None)


def bulk_update_by_id(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Update rows by `id`; every row carries `id` and the same other keys."""
    if not rows:
        return
    names = tuple(name for name in rows[0] if name != "id")
    if conn.dialect.name != "sqlite":
        statement = update(table).where(table.c.id == bindparam("row_id"))
        params = [{name: row[name] for name in names} | {"row_id": row["id"]} for row in rows]
        conn.execute(statement, params)
        return
    sql, converters = _update_plan(table, names)
    conn.exec_driver_sql(sql, _tuples(rows, (*names, "id"), converters))
