"""The outbox sender: claim due page rows, send them, record what happened.

Claim and record are short transactions (a claim may share the tick's, see the engine); the
provider calls happen between them, so a slow provider never holds a database lock. A row is
`sending` while its provider call is in flight; one found in `sending` after a crash is first
looked up at the provider and re-sent only if the provider has no record of it; so is a send
whose outcome is open (a timeout, a dropped connection, a 5xx), at once. Pages for an
incident that is no longer triggered are cancelled (outbox.claim_due).
"""

import asyncio
import logging
import os
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from app.clock import Clock, as_utc
from app.heartbeats.providers import note_provider_error
from app.paging import outbox
from app.paging.base import Channel, ChannelError, Delivery, PageKind
from app.paging.claims import SendJob, provider_text
from app.paging.outcomes import PageReports, record_error, will_retry
from app.paging.requests import PagePayload
from app.paging.throttle import SmsThrottle
from app.routing.rules import Rules
from app.store.database import Database

log = logging.getLogger(__name__)

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
    """Sends what the outbox holds, through the channel each row names; what came of an
    incident's page is reported to `reports` (the incident core)."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        clock: Clock,
        rules: Any,
        throttle: SmsThrottle,
        reports: PageReports,
        failpoint: str | None = None,
    ) -> None:
        self._db = db
        self._channels = channels
        self._clock = clock
        self._rules = rules  # anything with `.rules` (the RulesHolder)
        self._throttle = throttle
        self._reports = reports
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
        record = partial(
            _record,
            jobs=jobs,
            results=results,
            now=done,
            rules=self._rules.rules,
            reports=self._reports,
        )
        await self._db.transaction(record)
        return sum(isinstance(result, ChannelError) for result in results)

    def claim(
        self, conn: Connection, now: datetime, *, incidents: Collection[int] | None = None
    ) -> list[SendJob]:
        """Claim due pages (of `incidents` only, if given) in `conn`'s transaction; see
        `outbox.claim_due`."""
        return outbox.claim_due(
            conn,
            now,
            throttle=self._throttle,
            incidents=incidents,
            on_held=lambda held: self._reports.report(conn, held, now),
        )

    async def recover(self, *, older_than: datetime) -> int:
        """Settle rows left `sending` by a dead process: sent if the provider has them."""
        stuck = await self._db.transaction(partial(outbox.stuck_sending, older_than=older_than))
        for row in stuck:
            # A lookup that fails here re-sends: better twice than never, after a crash.
            provider_id = await self._find_sent(row)
            settle = partial(outbox.settle_in_flight, row=row, provider_id=provider_id)
            await self._db.transaction(settle)
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
            owned = await self._db.transaction(partial(outbox.provider_ids, address=address))
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
    *,
    jobs: Sequence[SendJob],
    results: Sequence[Result],
    now: datetime,
    rules: Rules,
    reports: PageReports,
) -> None:
    fresh = outbox.rows_by_id(conn, [job.row.id for job in jobs])
    for job, result in zip(jobs, results, strict=True):
        row = fresh[job.row.id]
        if isinstance(result, _Unsettled):
            # It and its bundled pages stay as claimed; `recover` settles them later. The
            # failure still counts as the provider's (a 5xx for minutes raises an incident).
            if result.error is not None:
                failure = result.error.as_provider_failure()
                note_provider_error(
                    conn, channel=row.channel, page_id=row.id, error=failure, now=now
                )
            continue
        if isinstance(result, Delivery):
            outbox.record_sent(conn, row.id, result.provider_id, now, bundled=job.bundled)
        else:
            # A failed bundle's other pages go back to the queue with it.
            outbox.requeue(conn, job.bundled)
            record_error(conn, row, result, now, rules=rules, reports=reports)
        retrying = isinstance(result, ChannelError) and will_retry(result, row, now)
        if PagePayload.from_json(row.payload).secret and not retrying:
            outbox.forget_secret(conn, row.id)
