"""Refused requests, kept in the `rejections` table so that another process (the CLI's
`log-tail --rejected`) and the dashboard can list the newest.

Off the hot path: a refusal is appended to a bounded in-memory buffer (a deque append, no I/O);
a background task writes the buffer every second in one transaction and trims the table to the
newest KEEP rows by id. A flood of bad requests therefore costs one insert batch a second and
never grows the table or memory; when the buffer overflows between flushes, the oldest
buffered entries are dropped (and counted in the log line of the next flush).
"""

import asyncio
import contextlib
import logging
import sys
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from app.clock import Clock, as_utc
from app.config import Settings
from app.store.database import Database
from app.store.tables import Base

log = logging.getLogger(__name__)
_rejections = Base.metadata.tables["rejections"]

KEEP = 1000  # rows kept in the table
_BUFFER = 1000  # entries buffered between two flushes
_FLUSH_S = 1.0
_DETAIL_CHARS = 500


@dataclass(frozen=True, slots=True)
class RejectionEntry:
    """One refused request: never the token (path without query, no headers)."""

    at: datetime
    method: str
    path: str
    client: str
    status: int
    reason: str
    detail: str

    def line(self) -> str:
        """`2026-12-03T14:00:00+00:00 400 POST /webhooks/generic from 10.0.0.7: malformed: …`."""
        return (
            f"{self.at.isoformat(timespec='seconds')} {self.status} {self.method} {self.path} "
            f"from {self.client}: {self.reason}: {self.detail}"
        )


class RejectionLog:
    """Buffers refusals and writes them in batches from a background task."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buffer: deque[RejectionEntry] = deque(maxlen=_BUFFER)
        self._dropped = 0
        self._db: Database | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def record(
        self, method: str, path: str, client: str, status: int, reason: str, detail: str
    ) -> None:
        """Remember one refusal (no I/O: called from the request's error handler)."""
        if len(self._buffer) == self._buffer.maxlen:
            self._dropped += 1
        self._buffer.append(
            RejectionEntry(
                self._clock.now(),
                method[:16],
                path[:500],
                client[:100],
                status,
                reason[:32],
                detail[:_DETAIL_CHARS],
            )
        )

    def start(self, db: Database) -> None:
        """Start writing batches to `db`."""
        self._db = db
        self._wake.clear()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Write what is buffered, then stop."""
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def flush(self) -> int:
        """Write the buffered entries now; returns how many. A failure is logged, not raised:
        these rows are diagnostics, and losing some must never fail a request or the service."""
        if self._db is None or not self._buffer:
            return 0
        batch = [asdict(entry) for entry in self._buffer]
        self._buffer.clear()
        dropped, self._dropped = self._dropped, 0
        try:
            await self._db.transaction(lambda conn: _write(conn, batch))
        except Exception:
            log.exception("could not store %d rejected requests", len(batch))
            return 0
        if dropped:
            log.warning(
                "%d rejected requests were not stored (more than %d a second)", dropped, _BUFFER
            )
        return len(batch)

    async def _loop(self) -> None:
        while not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _FLUSH_S)
            await self.flush()


def _write(conn: Connection, batch: list[dict[str, object]]) -> None:
    conn.execute(insert(_rejections), batch)
    newest = conn.execute(select(func.max(_rejections.c.id))).scalar_one()
    conn.execute(delete(_rejections).where(_rejections.c.id <= newest - KEEP))


def newest_rejections(conn: Connection, limit: int = 50) -> list[RejectionEntry]:
    """The newest `limit` refusals, oldest first."""
    rows = conn.execute(select(_rejections).order_by(_rejections.c.id.desc()).limit(limit))
    entries = [
        RejectionEntry(
            as_utc(row.at), row.method, row.path, row.client, row.status, row.reason, row.detail
        )
        for row in rows
    ]
    return entries[::-1]


async def print_rejections(settings: Settings, limit: int) -> int:
    """`skillpager log-tail --rejected`: the newest refusals, one a line, oldest first."""
    db = Database(settings.database_url)
    try:
        entries = await db.transaction(lambda conn: newest_rejections(conn, limit))
    finally:
        await db.dispose()
    if not entries:
        print("no rejected requests stored", file=sys.stderr)
    for entry in entries:
        print(entry.line())
    return 0
