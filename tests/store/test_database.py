"""Database.transaction on SQLite: this process's transactions take turns on the event loop."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from app.store.database import Database


@pytest.fixture
async def db(sqlite_database: str) -> AsyncIterator[Database]:
    database = Database(sqlite_database)
    yield database
    await database.dispose()


async def test_a_transaction_begun_during_another_commit_waits_its_turn_on_the_loop(
    db: Database,
) -> None:
    engines: list[Any] = []

    def work(conn: Connection) -> None:
        engines.append(conn.engine)
        conn.execute(text("SELECT 1"))

    def slow_fsync(conn: Connection) -> None:
        time.sleep(0.1)  # longer than the loop may wait in SQLite's busy handler (20 ms)

    await db.transaction(work)  # on the loop's own engine, as every transaction below must be
    event.listen(engines[0], "commit", slow_fsync)
    first = asyncio.create_task(db.transaction(work))
    await asyncio.sleep(0.02)  # the first is committing now, holding SQLite's write lock
    await db.transaction(work)
    await first

    # The second waited for its turn instead of busy-waiting on the loop and then falling back
    # to the engine that waits out another *process* in a thread.
    assert engines == [engines[0]] * 3
