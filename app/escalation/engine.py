"""The engine loop: APScheduler runs tick + sender every second; commits that open incidents
page them at once. The scheduler is only a ticker: all state is in the database.

A commit that opened incidents kicks the express lane: one transaction ticks only those
incidents and claims their pages (written and claimed together, so no other process can send
them), then the provider calls go out and a second transaction records them. Nothing else
waits in that lane: the full cycle (recovery, heartbeat checks, every due incident, retries)
runs on the timer and on other kicks, beside it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import Counter
from sqlalchemy.engine import Connection

from app.clock import Clock
from app.escalation.tick import run_tick
from app.paging.claims import SendJob
from app.paging.sender import STALE_SENDING, Sender
from app.routing.holder import RulesHolder
from app.store.database import Database

log = logging.getLogger(__name__)
_RECOVER_EVERY = timedelta(seconds=30)
_SEND_ROUNDS = 5
# Incidents one express transaction takes on (about one sender claim's worth of pages).
_EXPRESS_BATCH = 50


class EscalationEngine:
    """Runs the idempotent tick and the outbox sender, on a timer and on demand."""

    def __init__(
        self,
        db: Database,
        sender: Sender,
        rules: RulesHolder,
        *,
        clock: Clock,
        public_url: str,
        cycles_total: Counter,
        interval_s: float = 1.0,
        stale_sending: timedelta = STALE_SENDING,
        on_cycle: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        self._sender = sender
        self._rules = rules
        self._clock = clock
        self._public_url = public_url
        self._interval_s = interval_s
        self._stale = stale_sending  # a row `sending` this long belongs to a dead process
        self._on_cycle = on_cycle  # checks that may open incidents (heartbeats) before the tick
        self._cycles_total = cycles_total
        self._cycles = 0
        self._lock = asyncio.Lock()
        self._again = False
        self._scheduler: AsyncIOScheduler | None = None
        self._started_at: datetime | None = None
        self._recovered_at: datetime | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._kicked: set[int] = set()  # incidents waiting for the express lane
        self._express: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the one-second ticker."""
        self._started_at = self._clock.now()
        self._stopping = False
        # APScheduler's AsyncIOScheduler calls _on_timer on this event loop every interval:
        # max_instances=1 skips a beat while a cycle still runs, coalesce=True turns beats
        # missed under load into one. It keeps no job store: every due page is in the database.
        self._scheduler = AsyncIOScheduler()
        self._scheduler.add_job(
            self._on_timer, "interval", seconds=self._interval_s, max_instances=1, coalesce=True
        )
        self._scheduler.start()
        self.kick()

    async def stop(self) -> None:
        """Stop ticking; a running cycle records the batch in flight and goes no further."""
        # Shutdown must not outlast a supervisor's grace period: a SIGKILL mid-send would leave
        # pages `sending` until another process looks them up at the provider.
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        await self.settle()

    def kick(self, incidents: Collection[int] = ()) -> None:
        """Page `incidents` (just committed with work due) at once; without any, run a full
        cycle now. Either coalesces with the one running."""
        if self._stopping:
            return
        if incidents:
            self._kicked.update(incidents)
            if self._express is None or self._express.done():
                self._express = self._spawn(self._run_express())
            return
        if self._lock.locked():
            self._again = True
            return
        self._spawn(self.cycle())

    async def send_now(self, incidents: Collection[int]) -> None:
        """Tick and send these incidents' due pages before returning: a Slack click's message
        is restated before Slack gets its answer."""
        if self._stopping:
            return
        work = partial(self._tick_and_claim, incidents=sorted(incidents), now=self._clock.now())
        jobs = await self._db.transaction(work)
        if jobs:
            await self._spawn(self._deliver(jobs))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        # Kept until done, so settle() (and stop()) can wait for it.
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _on_timer(self) -> None:
        # Only kick: APScheduler cancels the jobs it runs when it shuts down, and a cycle
        # cancelled mid-send would leave its pages `sending`; a kicked cycle is ours to await.
        self.kick()

    async def settle(self) -> None:
        """Wait until every kicked cycle and express batch has finished (tests and shutdown)."""
        while self._tasks or self._lock.locked():
            await asyncio.gather(*self._tasks, return_exceptions=True)
            async with self._lock:
                pass

    @property
    def cycles(self) -> int:
        """Cycles completed by this engine (`skillpager_engine_cycles_total` counts them too).

        A cycle that started after a moment has looked at everything due by then: tests wait
        for two more to show that nothing else happens.
        """
        return self._cycles

    async def cycle(self) -> None:
        """Tick and send until nothing more is due; repeated while kicks arrived meanwhile."""
        async with self._lock:
            self._again = True
            while self._again and not self._stopping:
                self._again = False
                try:
                    await self._once()
                except Exception:
                    log.exception("escalation cycle failed; retrying on the next tick")
                else:
                    self._cycles += 1
                    self._cycles_total.inc()

    async def _once(self) -> None:
        now = self._clock.now()
        await self._recover(now)
        if self._on_cycle is not None:
            await self._on_cycle(now)
        # Every tick is followed by a send, and a send may make more due at once (a failed
        # page's fallbacks; a ladder moving on when every channel failed): tick and send until
        # nothing more is due (bounded; retries wait for their backoff).
        for _ in range(_SEND_ROUNDS):
            written = await self._db.transaction(
                partial(
                    run_tick,
                    rules=self._rules.rules,
                    now=self._clock.now(),
                    public_url=self._public_url,
                )
            )
            tried = await self._sender.run_once()
            if self._stopping or not (written or tried):
                break

    async def _run_express(self) -> None:
        """Tick and claim the kicked incidents, a batch per transaction, until none is left."""
        while self._kicked and not self._stopping:
            batch = sorted(self._kicked)[:_EXPRESS_BATCH]
            self._kicked.difference_update(batch)
            try:
                jobs = await self._db.transaction(
                    partial(self._tick_and_claim, incidents=batch, now=self._clock.now())
                )
            except Exception:
                log.exception("paging kicked incidents failed; the full cycle retries")
                self.kick()
                continue
            if jobs:
                # Claimed rows are ours to send and record, even if stop() came meanwhile.
                self._spawn(self._deliver(jobs))

    def _tick_and_claim(
        self, conn: Connection, *, incidents: list[int], now: datetime
    ) -> list[SendJob]:
        run_tick(
            conn,
            rules=self._rules.rules,
            now=now,
            public_url=self._public_url,
            incidents=incidents,
        )
        return self._sender.claim(conn, now, incidents=incidents)

    async def _deliver(self, jobs: list[SendJob]) -> None:
        try:
            failed = await self._sender.deliver(jobs)
        except Exception:
            log.exception("sending or recording claimed pages failed; recovery settles them")
            return
        if failed:
            self.kick()  # fallbacks and a ladder moving on go out at once, as in a cycle

    async def _recover(self, now: datetime) -> None:
        if self._recovered_at is not None and now - self._recovered_at < _RECOVER_EVERY:
            return
        # At startup on SQLite (one process), anything `sending` belongs to the dead process.
        first = self._recovered_at is None and not self._db.is_postgres
        older_than = self._started_at if first and self._started_at else now - self._stale
        self._recovered_at = now
        settled = await self._sender.recover(older_than=older_than)
        if settled:
            log.info("settled %d pages left in flight by a previous process", settled)
