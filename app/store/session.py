"""The async engine: SQLite tuned for one durable writer (WAL), or PostgreSQL."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession


def make_engine(url: str, *, busy_timeout_s: float = 5.0) -> AsyncEngine:
    """Create the engine; SQLite connections get WAL, full fsync and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, connect_args={"timeout": busy_timeout_s}, pool_size=8, max_overflow=8
        )
        event.listen(engine.sync_engine, "connect", sqlite_pragmas(busy_timeout_s))
        # This engine serves reads (writes go through Database.transaction): a plain BEGIN
        # reads a WAL snapshot without waiting for the writer's lock.
        event.listen(engine.sync_engine, "begin", _begin_deferred)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def sqlite_pragmas(busy_timeout_s: float) -> Any:
    """A connect hook setting WAL, full fsync, foreign keys and the busy timeout."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the monitor hears 202, even on power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()
        # We issue BEGIN ourselves (below), instead of the driver's lazy deferred BEGIN.
        dbapi_connection.isolation_level = None

    return on_connect


def begin_immediate(connection: Any) -> None:
    """A begin hook taking SQLite's write lock up front."""
    # The writer, the tick and the sender all write. A deferred transaction that read first
    # fails at once with SQLITE_BUSY when another committed meanwhile; IMMEDIATE takes the
    # write lock up front and waits (busy_timeout) instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _begin_deferred(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")
