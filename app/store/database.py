"""One handle on the store: async reads, and units of work run as one synchronous transaction.

A unit of work is a plain function over a SQLAlchemy `Connection`. On SQLite it runs on the
event loop's own thread, where a batch's statements cost microseconds each, and only the
commit's fsync waits in a worker thread; handing each statement (aiosqlite) or the whole
transaction to another thread measured several times slower under load, as every GIL hand-over
waits out the interpreter's switch interval. Only when another process holds the write lock
does the work move to a thread, which may then wait the full busy timeout without stalling
requests. On PostgreSQL it runs through asyncpg's greenlet bridge, which is already cheap.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.session import begin_immediate, make_engine, sqlite_pragmas

T = TypeVar("T")
# How long the loop thread itself may wait for SQLite's write lock before handing over.
_INLINE_LOCK_WAIT_S = 0.02


class Database:
    """The async engine for reads plus `transaction(work)` for writes."""

    def __init__(self, url: str, *, busy_timeout_s: float = 5.0) -> None:
        self.url = url
        self.engine: AsyncEngine = make_engine(url, busy_timeout_s=busy_timeout_s)
        self._inline: Engine | None = None
        self._patient: Engine | None = None
        # Commits have a thread of their own: through the shared default executor each one
        # paid for a context copy and, under load, for waking or starting a worker.
        self._committer: ThreadPoolExecutor | None = None
        # One SQLite transaction of this process at a time: the next waits its turn on the loop.
        # Without it, one that begins while another commits (the writer's next batch and the
        # engine's express lane, back to back under load) waits in SQLite's busy handler, which
        # blocks the whole loop for up to _INLINE_LOCK_WAIT_S (measured: ~1 s of a 15 s run).
        self._turn = asyncio.Lock()
        if url.startswith("sqlite"):
            self._inline = _sqlite_engine(url, _INLINE_LOCK_WAIT_S)
            self._patient = _sqlite_engine(url, busy_timeout_s)
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL (row locks with SKIP LOCKED; several replicas allowed)."""
        return self._inline is None

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction: committed when it returns, rolled back if it raises."""
        if self._inline is None or self._patient is None or self._committer is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        async with self._turn:
            connection = self._inline.connect()
            try:
                transaction = connection.begin()
            except OperationalError:
                connection.close()  # another process holds the write lock: wait in a thread
                return await asyncio.to_thread(_run, self._patient, work)
            with connection:
                try:
                    result = work(connection)
                except BaseException:
                    transaction.rollback()
                    raise
                # The commit's fsync is the one slow call: it runs off the loop (sqlite3 releases
                # the GIL for it), so requests keep being read and parsed meanwhile.
                await asyncio.get_running_loop().run_in_executor(
                    self._committer, transaction.commit
                )
                return result

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        for engine in (self._inline, self._patient):
            if engine is not None:
                engine.dispose()
        if self._committer is not None:
            self._committer.shutdown(wait=True)


def _sqlite_engine(url: str, busy_timeout_s: float) -> Engine:
    engine = create_engine(
        url.replace("sqlite+aiosqlite://", "sqlite://", 1),
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
        pool_size=4,
        max_overflow=4,
    )
    event.listen(engine, "connect", sqlite_pragmas(busy_timeout_s))
    event.listen(engine, "begin", begin_immediate)
    return engine


def _run(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.begin() as conn:
        return work(conn)
