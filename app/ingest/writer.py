"""The single writer: many requests' alerts go into one transaction, then each request is told.

Group commit is how a durable store keeps up with bursts: one fsync covers every request that
arrived while the previous transaction was committing. A request is answered only after its
transaction committed, so a 202 always means "stored".
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError

from app.clock import Clock
from app.core.alert import ParsedAlert
from app.errors import RowRejected, StoreUnavailable
from app.ingest.clean import clean_alert, clean_headers
from app.metrics import Metrics
from app.store.alert_rows import AlertRow, AppliedEvent, apply_events, flush_rows
from app.store.database import Database
from app.store.tables import Base
from app.store.upsert import insert_returning_ids

log = logging.getLogger(__name__)

_MAX_BATCH_ALERTS = 5000
_raw_events = Base.metadata.tables["raw_events"]


class IncidentHook(Protocol):
    """Opens/joins incidents for a batch's rows, inside the writer's transaction."""

    def attach(self, conn: Connection, rows: Sequence[AlertRow], now: datetime) -> set[int]:
        """Before the rows are written: give new firing rows an incident; ids (re)opened."""
        ...

    def settle(self, conn: Connection, rows: Sequence[AlertRow], now: datetime) -> set[int]:
        """After the rows are written: act on what the monitors said of the incidents (acks,
        incidents left without firing rows resolved); ids of incidents with work due."""
        ...


@dataclass(frozen=True, slots=True)
class Submission:
    """One request's exact body and its parsed alerts."""

    source: str
    body: bytes
    headers: dict[str, str]
    alerts: Sequence[ParsedAlert]
    delivery_id: str | None = None
    # Over its ingest limit: store, and join open incidents, but open and route nothing.
    grouping_only: bool = False

    def __post_init__(self) -> None:
        # Every way in (webhooks, replay, heartbeats) stores only text every database keeps.
        object.__setattr__(self, "alerts", [clean_alert(alert) for alert in self.alerts])
        object.__setattr__(self, "headers", clean_headers(self.headers))


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a committed submission became."""

    raw_event_id: int
    alert_ids: list[int]
    incident_ids: list[int]
    # A provider redelivery (same delivery id) of a message already stored: nothing new.
    duplicate: bool = False


@dataclass(slots=True)
class _Pending:
    submission: Submission
    future: asyncio.Future[WriteResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Writer:
    """Owns the ingest transaction; `submit` returns once the alerts are committed."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        metrics: Metrics,
        timeout_s: float,
        incident_hook: IncidentHook | None = None,
        on_incidents_opened: Callable[[set[int]], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._metrics = metrics
        self._timeout_s = timeout_s
        self._incident_hook = incident_hook
        self._on_opened = on_incidents_opened
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer task on the running loop."""
        self._task = asyncio.create_task(self._run(), name="skillpager-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    @property
    def running(self) -> bool:
        """Whether the writer task is alive (it takes submissions)."""
        return self._task is not None and not self._task.done()

    async def submit(self, submission: Submission) -> WriteResult:
        """Queue a submission and wait for its commit; StoreUnavailable after the timeout."""
        if not self.running:
            raise StoreUnavailable("the writer is not running")
        pending = _Pending(submission)
        # If this request times out first, nobody reads the outcome: mark it read anyway.
        pending.future.add_done_callback(_retrieve)
        self._queue.put_nowait(pending)
        try:
            async with asyncio.timeout(self._timeout_s):
                # shield: a timed-out request must not cancel the future the writer completes.
                return await asyncio.shield(pending.future)
        except TimeoutError as exc:
            raise StoreUnavailable("the database did not commit in time") from exc

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            alerts = len(batch[0].submission.alerts)
            while not self._queue.empty() and alerts < _MAX_BATCH_ALERTS:
                batch.append(self._queue.get_nowait())
                alerts += len(batch[-1].submission.alerts)
            try:
                await self._commit_or_isolate(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit_or_isolate(self, batch: list[_Pending]) -> None:
        """Commit the batch; if one member's data fails it, commit the members one by one.

        A row the database refuses (PostgreSQL's "value too long", say) rolls back every
        request in its transaction; retried alone, only that request fails (422), never its
        neighbours. A store that is down fails the whole batch at once (503).
        """
        try:
            await self._commit_batch(batch)
        except Exception as exc:  # noqa: BLE001 - loop boundary: fail this batch, keep serving
            if len(batch) == 1 or _store_down(exc):
                self._fail(batch, exc)
                return
            log.warning(
                "writer batch of %d failed (%s); committing its requests one by one",
                len(batch),
                type(exc).__name__,
            )
            for pending in batch:
                try:
                    await self._commit_batch([pending])
                except Exception as alone:  # noqa: BLE001 - as above, for one request
                    self._fail([pending], alone)

    async def _commit_batch(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            results, opened = await self._transaction(batch)
        except IntegrityError:
            # Another replica opened the same key or group between our read and write: the
            # retry reads its row and joins it.
            self._metrics.writer_conflicts.inc()
            results, opened = await self._transaction(batch)
        self._metrics.writer_commit.observe(time.perf_counter() - started)
        self._metrics.writer_batch.observe(sum(len(p.submission.alerts) for p in batch))
        for pending, result in zip(batch, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)
        if opened and self._on_opened is not None:
            self._on_opened(opened)

    async def _transaction(self, batch: list[_Pending]) -> tuple[list[WriteResult], set[int]]:
        now = self._clock.now()
        submissions = [pending.submission for pending in batch]
        return await self._db.transaction(lambda conn: self.write(conn, submissions, now))

    def write(
        self, conn: Connection, submissions: list[Submission], now: datetime
    ) -> tuple[list[WriteResult], set[int]]:
        """Apply submissions inside `conn`'s transaction; results, and incidents with work due."""
        stored = _stored_deliveries(conn, submissions)
        fresh = _first_copies(submissions, stored)
        raw_ids = _insert_raw_events(conn, fresh, now)
        stored |= {_delivery(s): r for s, r in zip(fresh, raw_ids, strict=True) if s.delivery_id}
        events = [
            (alert, raw_id)
            for submission, raw_id in zip(fresh, raw_ids, strict=True)
            for alert in submission.alerts
        ]
        applied = apply_events(conn, events, now=now)
        limited = {r for s, r in zip(fresh, raw_ids, strict=True) if s.grouping_only}
        for event in applied:
            event.row.grouping_only = event.raw_event_id in limited and event.row.newly_firing
        rows = [event.row for event in applied]
        opened: set[int] = set()
        if self._incident_hook is not None:
            opened = self._incident_hook.attach(conn, rows, now)
        flush_rows(conn, rows)
        if self._incident_hook is not None:
            opened |= self._incident_hook.settle(conn, rows, now)
        results = dict(zip(map(id, fresh), _results(raw_ids, applied), strict=True))
        return [
            results.get(id(s)) or WriteResult(stored[_delivery(s)], [], [], duplicate=True)
            for s in submissions
        ], opened

    def _fail(self, batch: list[_Pending], exc: Exception) -> None:
        refused = _refused_data(exc) if len(batch) == 1 else None
        if refused is not None:
            log.warning("the database refused a request's data: %s", refused)
            if not batch[0].future.done():
                reason = f"the database refused this request's data: {refused}"
                batch[0].future.set_exception(RowRejected(reason))
            return
        unavailable = isinstance(exc, OperationalError | DBAPIError | OSError)
        log.error(
            "writer transaction failed: %s",
            type(exc).__name__,
            exc_info=not unavailable,
            extra={"batch": len(batch)},
        )
        error = StoreUnavailable(f"database error: {type(exc).__name__}")
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(error)


def _store_down(exc: Exception) -> bool:
    """Whether a failure is the store's (unreachable, locked, timed out), not a row's."""
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


# SQLSTATE classes of a row's own fault: 22 data exception (NUL, value too long, out of
# range), 54 program limit exceeded (an index row too large).
_ROW_STATES = ("22", "54")


def _refused_data(exc: Exception) -> str | None:
    """Why the database refused one request's data, or None if the failure is not about it."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None)
    row_state = isinstance(state, str) and state[:2] in _ROW_STATES
    # UnicodeError: a value the driver cannot encode (what clean.py keeps from getting here).
    if not (isinstance(exc, DataError) or row_state or isinstance(orig, UnicodeError)):
        return None
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if text.startswith("<class"):  # asyncpg via SQLAlchemy: "<class '…Error'>: message"
        text = text.partition(": ")[2] or text
    return text[:200]


def _retrieve(future: asyncio.Future[WriteResult]) -> None:
    if not future.cancelled():
        future.exception()


def _delivery(submission: Submission) -> tuple[str, str] | None:
    return (submission.source, submission.delivery_id) if submission.delivery_id else None


def _first_copies(
    submissions: list[Submission], stored: dict[tuple[str, str] | None, int]
) -> list[Submission]:
    """Submissions to write: all but redeliveries of stored ones or of an earlier one here."""
    seen = set(stored)
    fresh = []
    for submission in submissions:
        key = _delivery(submission)
        if key is None or key not in seen:
            fresh.append(submission)
            seen.add(key)
    return fresh


def _stored_deliveries(
    conn: Connection, submissions: list[Submission]
) -> dict[tuple[str, str] | None, int]:
    """Deliveries already stored: (source, delivery id) → raw event id."""
    wanted = [key for key in map(_delivery, submissions) if key is not None]
    if not wanted:
        return {}
    found = conn.execute(
        select(_raw_events.c.source, _raw_events.c.delivery_id, _raw_events.c.id).where(
            _raw_events.c.delivery_id.in_([delivery for _, delivery in wanted])
        )
    ).all()
    stored: dict[tuple[str, str] | None, int] = {(r.source, r.delivery_id): r.id for r in found}
    return stored


def _insert_raw_events(conn: Connection, submissions: list[Submission], now: datetime) -> list[int]:
    return insert_returning_ids(
        conn,
        _raw_events,
        [
            {
                "source": s.source,
                "received_at": now,
                "body": s.body,
                "headers": s.headers,
                "delivery_id": s.delivery_id,
            }
            for s in submissions
        ],
    )


def _results(raw_ids: list[int], applied: list[AppliedEvent]) -> list[WriteResult]:
    rows_of: dict[int, list[AlertRow]] = {raw_id: [] for raw_id in raw_ids}
    for event in applied:
        rows_of[event.raw_event_id].append(event.row)
    return [
        WriteResult(
            raw_event_id=raw_id,
            alert_ids=[row.id for row in rows_of[raw_id] if row.id is not None],
            incident_ids=sorted({r.incident_id for r in rows_of[raw_id] if r.incident_id}),
        )
        for raw_id in raw_ids
    ]
