"""The outbox sender: claim due page rows, send them, record what happened.

Claim and record are short transactions (a claim may share the tick's, see the engine); the
provider calls happen between them, so a slow provider never holds a database lock. A row is
`sending` while its provider call is in flight; one found in `sending` after a crash is first
looked up at the provider and re-sent only if the provider has no record of it; so is a send
whose outcome is open (a timeout, a dropped connection, a 5xx), at once. Pages for an
incident that is no longer triggered are cancelled (claims.py).
"""

import asyncio
import logging
import os
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from app.clock import Clock, as_utc
from app.heartbeats.providers import note_provider_error
from app.paging.base import Channel, ChannelError, Delivery, PageKind
from app.paging.claims import SendJob, carrier, claim_due, provider_text, update_pages
from app.paging.outcomes import record_error, record_sent, will_retry
from app.paging.throttle import SmsThrottle
from app.routing.rules import Rules
from app.store.database import Database
from app.store.tables import Base

log = logging.getLogger(__name__)

_pages = Base.metadata.tables["pages"]
_PAGES = select(_pages).where(_pages.c.id.in_(bindparam("ids", expanding=True)))
# A row stuck in `sending` this long belongs to a process that died mid-send.
STALE_SENDING = timedelta(seconds=60)
# A provider's clock and ours may differ a little: look for a message from a bit earlier.
_LOOKUP_SLACK = timedelta(seconds=5)


class _Unsettled:
    """A send whose outcome is open and the provider could not be asked: leave it `sending`.

    `error` is the send's own failure, still counted against the provider's health.
    """

    def __init__(self, error: ChannelError | None = None) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"UNSETTLED({self.error!r})"


UNSETTLED = _Unsettled()
Result = Delivery | ChannelError | _Unsettled


class Sender:
    """Sends what the outbox holds, through the channel each row names."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        clock: Clock,
        rules: Any,
        throttle: SmsThrottle,
        failpoint: str | None = None,
    ) -> None:
        self._db = db
        self._channels = channels
        self._clock = clock
        self._rules = rules  # anything with `.rules` (the RulesHolder)
        self._throttle = throttle
        self._failpoint = failpoint

    async def run_once(self) -> int:
        """Send every due page once; returns how many were tried (sent or failed)."""
        now = self._clock.now()
        jobs = await self._db.transaction(lambda conn: self.claim(conn, now))
        await self.deliver(jobs)
        return len(jobs)

    async def deliver(self, jobs: Sequence[SendJob]) -> int:
        """Send claimed pages and record the outcomes; returns how many failed."""
        if not jobs:
            return 0
        if self._failpoint == "after_claim":
            os._exit(137)  # crash test: rows are `sending`, nothing reached a provider
        since = self._clock.now() - _LOOKUP_SLACK
        sent = await asyncio.gather(*(self._send(job) for job in jobs))
        results = await asyncio.gather(
            *(
                self._settle_ambiguous(job, result, since)
                for job, result in zip(jobs, sent, strict=True)
            )
        )
        done = self._clock.now()
        rules: Rules = self._rules.rules
        await self._db.transaction(lambda conn: _record(conn, jobs, results, done, rules))
        return sum(isinstance(result, ChannelError) for result in results)

    def claim(
        self, conn: Connection, now: datetime, *, incidents: Collection[int] | None = None
    ) -> list[SendJob]:
        """Claim due pages (of `incidents` only, if given) in `conn`'s transaction; see
        `claims.claim_due`."""
        return claim_due(conn, now, throttle=self._throttle, incidents=incidents)

    async def recover(self, *, older_than: datetime) -> int:
        """Settle rows left `sending` by a dead process: sent if the provider has them."""
        stuck = await self._db.transaction(
            lambda conn: conn.execute(
                select(_pages).where(_pages.c.status == "sending", _pages.c.claimed_at < older_than)
            ).all()
        )
        for row in stuck:
            # A lookup that fails here re-sends: better twice than never, after a crash.
            provider_id = await self._find_sent(row)
            await self._db.transaction(partial(_settle, row=row, provider_id=provider_id))
        return len(stuck)

    async def _find_sent(self, row: Any) -> str | None:
        if row.claimed_at is None:
            return None
        text = (row.payload or {}).get("sent_text") or row.text
        since = as_utc(row.claimed_at) - _LOOKUP_SLACK
        found = await self._look_up(row.id, row.channel, row.address, since, text)
        return None if isinstance(found, _Unsettled) else found

    async def _settle_ambiguous(self, job: SendJob, result: Result, since: datetime) -> Result:
        """Settle a send whose outcome is open (timeout, 5xx) the way crash recovery does.

        The provider is asked first: a message it holds is the page sent (never sent again);
        only when it has none does the page go back to be retried. When the lookup fails
        too, the row stays `sending` for the recovery pass to look again.
        """
        if not isinstance(result, ChannelError) or not result.ambiguous:
            return result
        row = job.row
        text = provider_text(job.page)
        found = await self._look_up(row.id, row.channel, row.address, since, text)
        if isinstance(found, _Unsettled):
            return _Unsettled(result)
        if found is None:
            log.info("page %s: %s, and the provider has no record; retrying", row.id, result.code)
            return result
        log.info("page %s: %s, but the provider has it as %s", row.id, result.code, found)
        return Delivery(found, "found")

    async def _look_up(
        self, page_id: int, channel_name: str, address: str, since: datetime, text: str
    ) -> str | _Unsettled | None:
        """The provider id of the page's message at the provider, None, or UNSETTLED."""
        channel = self._channels.get(channel_name)
        if channel is None:
            return None
        try:
            owned = await self._db.transaction(partial(_provider_ids, address=address))
            found = await channel.find_sent(address, since, text, owned)
        except ChannelError as exc:
            log.warning("could not check page %s at the provider: %s", page_id, exc.code)
            return UNSETTLED
        return found

    async def _send(self, job: SendJob) -> Result:
        channel = self._channels.get(job.page.channel)
        if channel is None:
            return ChannelError(
                f"no channel {job.page.channel}", code="no_channel", retryable=False
            )
        try:
            delivery = await _deliver(channel, job)
        except ChannelError as exc:
            return exc
        if self._failpoint == "after_provider_accept":
            # Crash test: die after the provider took the page, before we record it.
            os._exit(137)
        return delivery


async def _deliver(channel: Channel, job: SendJob) -> Delivery:
    """Send, or for an update, edit the message it names in place."""
    if job.page.kind is PageKind.UPDATE:
        return await channel.restate(job.page, job.page.to)
    return await channel.send(job.page)


def _record(
    conn: Connection,
    jobs: Sequence[SendJob],
    results: Sequence[Result],
    now: datetime,
    rules: Rules,
) -> None:
    fresh = {row.id: row for row in conn.execute(_PAGES, {"ids": [job.row.id for job in jobs]})}
    for job, result in zip(jobs, results, strict=True):
        row = fresh[job.row.id]
        if isinstance(result, _Unsettled):
            # It and its bundled pages stay as claimed; `recover` settles them later. The
            # failure still counts as the provider's (a 5xx for minutes raises an incident).
            if result.error is not None:
                note_provider_error(
                    conn, channel=row.channel, page_id=row.id, error=result.error, now=now
                )
            continue
        if isinstance(result, Delivery):
            record_sent(conn, row.id, result.provider_id, now)
            update_pages(
                conn, job.bundled, status="sent", sent_at=now, provider_id=result.provider_id
            )
        else:
            # A failed bundle's other pages go back to the queue with it.
            update_pages(conn, job.bundled, status="pending", provider_id=None)
            record_error(conn, row, result, now, rules)
        retrying = isinstance(result, ChannelError) and will_retry(result, row, now)
        if (row.payload or {}).get("secret") and not retrying:
            update_pages(
                conn, [row.id], text="(secret removed after sending)", payload={"secret": True}
            )


def _provider_ids(conn: Connection, *, address: str) -> set[str]:
    """Provider ids already recorded for pages to `address` (so a lookup never reuses one)."""
    found = conn.execute(
        select(_pages.c.provider_id).where(
            _pages.c.address == address, _pages.c.provider_id.is_not(None)
        )
    ).scalars()
    return set(found)


def _settle(conn: Connection, row: Any, provider_id: str | None) -> None:
    passengers = (
        conn.execute(
            select(_pages.c.id).where(
                _pages.c.status == "bundled", _pages.c.provider_id == carrier(row.id)
            )
        )
        .scalars()
        .all()
    )
    if provider_id is not None:
        sent_at = as_utc(row.claimed_at)
        record_sent(conn, row.id, provider_id, sent_at)
        update_pages(conn, passengers, status="sent", sent_at=sent_at, provider_id=provider_id)
    else:
        update_pages(conn, [row.id], status="pending", last_error="re-sent after a crash")
        update_pages(conn, passengers, status="pending", provider_id=None)
