"""Dialect-aware helpers: insert-or-ignore, and row locks that skip rows another replica holds."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.store.bulk import bulk_insert


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """Insert rows, silently skipping any that break a unique key; keys of the rows inserted."""
    if not rows:
        return []
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    inserted = []
    # One statement per row: RETURNING tells exactly which rows were new.
    for row in rows:
        statement = dialect.insert(table).values(row).on_conflict_do_nothing()
        result = conn.execute(statement.returning(key))
        new_id = result.scalar_one_or_none()
        if new_id is not None:
            inserted.append(new_id)
    return inserted


def claim(query: Select[Any], conn: Connection, *, of: Table | None = None) -> Select[Any]:
    """Lock the selected rows for this transaction; on PostgreSQL skip rows others hold.

    SQLite has one writer at a time, so its transaction is the lock.
    """
    if conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=of)
    return query


def insert_returning_ids(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows and return their new ids, in row order.

    On SQLite the transaction holds the write lock (BEGIN IMMEDIATE), so the ids are simply the
    next ones after the current maximum and one executemany does it all; INSERT … RETURNING
    with guaranteed order costs SQLAlchemy one statement per row there. PostgreSQL returns
    them in order from batched statements.
    """
    if not rows:
        return []
    if conn.dialect.name != "sqlite":
        result = conn.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
        )
        return list(result.scalars().all())
    last = conn.exec_driver_sql(f"SELECT max(id) FROM {table.name}").scalar()  # noqa: S608 - metadata name
    first = (last or 0) + 1
    ids = list(range(first, first + len(rows)))
    bulk_insert(conn, table, [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)])
    return ids
