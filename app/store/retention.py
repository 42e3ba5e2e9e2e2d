"""Retention: raw events older than RETENTION_DAYS are deleted (callback receipts with
them, and change events past 90 days); alerts and incidents stay.

A raw event younger than the SNS acceptance window is never deleted, whatever `keep` says: its
MessageId (the unique delivery id) is what turns a replay of the same signed bytes into a
duplicate, and SNS refuses messages older than that window by their own Timestamp.

`prune` deletes in small batches, each its own short transaction (the alert links first, then
the raw events), so the writer waits at most one batch. Every batch is a plain DELETE by id of
rows past the cutoff: running it again, or on several replicas at once, deletes nothing twice.
`Retention` runs it shortly after startup and then once a day, and deletes expired dashboard
sessions on the same schedule.
"""

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from app.clock import Clock
from app.ingest.sns import ACCEPTANCE_WINDOW
from app.store import change_events
from app.store.database import Database
from app.store.tables import Base
from app.store.web_sessions import prune_sessions

log = logging.getLogger(__name__)
BATCH_SIZE = 5_000
FIRST_RUN_AFTER = timedelta(minutes=1)
EVERY = timedelta(days=1)

_raw_events = Base.metadata.tables["raw_events"]
_links = Base.metadata.tables["alert_raw_events"]
_receipts = Base.metadata.tables["inbound_receipts"]
# Callback receipts outlive any signature window by far (see prune_receipts).
RECEIPTS_KEEP = timedelta(hours=24)


def prune_batch(conn: Connection, *, before: datetime, limit: int = BATCH_SIZE) -> int:
    """Delete up to `limit` raw events received before `before`, and their alert links.

    Returns how many raw events this call deleted. On PostgreSQL the rows are claimed with
    SKIP LOCKED, so replicas pruning at the same moment take different batches.
    """
    ids = list(
        conn.scalars(
            select(_raw_events.c.id)
            .where(_raw_events.c.received_at < before)
            .order_by(_raw_events.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return 0
    conn.execute(delete(_links).where(_links.c.raw_event_id.in_(ids)))
    deleted = conn.execute(delete(_raw_events).where(_raw_events.c.id.in_(ids))).rowcount
    return int(deleted)


async def prune(
    db: Database,
    *,
    now: datetime,
    keep: timedelta,
    batch_size: int = BATCH_SIZE,
    stop: asyncio.Event | None = None,
) -> int:
    """Delete every raw event older than `now - keep` (at least the SNS acceptance window),
    batch by batch; return the count.

    Between batches the event loop runs other work (the writer's next commit). A set `stop`
    event ends the run after the current batch.
    """
    work = partial(prune_batch, before=now - max(keep, ACCEPTANCE_WINDOW), limit=batch_size)
    total = 0
    while stop is None or not stop.is_set():
        deleted = await db.transaction(work)
        total += deleted
        if deleted < batch_size:
            break
        await asyncio.sleep(0)
    await db.transaction(partial(prune_receipts, before=now - max(keep, RECEIPTS_KEEP)))
    await db.transaction(partial(change_events.prune, before=now - max(keep, change_events.KEEP)))
    return total


def prune_receipts(conn: Connection, *, before: datetime) -> int:
    """Forget callbacks received before `before` (receipts.py); how many were forgotten.

    They are kept as long as raw events and at least a day: far past Slack's 5-minute
    signature window. Twilio signs no time, so a replay older than that would act again.
    """
    deleted = conn.execute(delete(_receipts).where(_receipts.c.received_at < before)).rowcount
    return int(deleted)


class Retention:
    """Runs `prune` once shortly after startup, then every day, until stopped."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        keep: timedelta,
        first_after: timedelta = FIRST_RUN_AFTER,
        every: timedelta = EVERY,
    ) -> None:
        self._db = db
        self._clock = clock
        self._keep = keep
        self._first_after = first_after
        self._every = every
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the daily timer."""
        self._stop.clear()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the timer; a running prune ends after its current batch (never mid-commit)."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def run_once(self) -> int:
        """One pruning pass now; a failure is logged and retried on the next run."""
        try:
            deleted = await prune(self._db, now=self._clock.now(), keep=self._keep, stop=self._stop)
        except Exception:
            log.exception("pruning raw events failed; retrying at the next daily run")
            return 0
        if deleted:
            log.info("pruned %d raw events older than %s", deleted, self._keep)
        await self._prune_sessions()
        return deleted

    async def _prune_sessions(self) -> None:
        try:
            work = partial(prune_sessions, before=self._clock.now())
            deleted = await self._db.transaction(work)
        except Exception:
            log.exception("pruning expired sessions failed; retrying at the next daily run")
            return
        if deleted:
            log.info("pruned %d expired dashboard sessions", deleted)

    async def _loop(self) -> None:
        delay = self._first_after
        while not await self._stopped_within(delay):
            await self.run_once()
            delay = self._every

    async def _stopped_within(self, delay: timedelta) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=delay.total_seconds())
        return self._stop.is_set()
