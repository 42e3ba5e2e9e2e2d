"""The outbox sender: claim due page rows, send them, record what happened.

Claim and record are short transactions (a claim may share the tick's, see the engine); the
provider calls happen between them, so a slow provider never holds a database lock. A row is
`sending` while its provider call is in flight; one found in `sending` after a crash is first
looked up at the provider and re-sent only if the provider has no record of it. Pages for an
incident that is no longer triggered are cancelled.
"""

import asyncio
import logging
import os
import socket
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from app.clock import Clock, as_utc
from app.ingest.base import Severity
from app.paging.base import Channel, ChannelError, Delivery, OutboundPage, PageKind
from app.paging.outcomes import record_error, record_sent, will_retry
from app.paging.text import BundleItem, bundle_text, slack_blocks, slack_fallback
from app.paging.throttle import SmsThrottle
from app.routing.rules import Rules
from app.store.database import Database
from app.store.tables import Base
from app.store.upsert import claim

log = logging.getLogger(__name__)

_pages = Base.metadata.tables["pages"]
_incidents = Base.metadata.tables["incidents"]
_BATCH = 100
# A row stuck in `sending` this long belongs to a process that died mid-send.
STALE_SENDING = timedelta(seconds=60)
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"
_NEEDS_TRIGGERED = {PageKind.PAGE.value, PageKind.BUNDLE.value}
# Built once and run with parameters (building and hashing cost more than running them).
_DUE = (
    select(_pages, _incidents.c.state.label("incident_state"))
    .outerjoin(_incidents, _incidents.c.id == _pages.c.incident_id)
    .where(_pages.c.status == "pending", _pages.c.next_attempt_at <= bindparam("now"))
    .order_by(_pages.c.id)
    .limit(_BATCH)
)
_DUE_AMONG = _DUE.where(_pages.c.incident_id.in_(bindparam("incidents", expanding=True)))
_PAGES = select(_pages).where(_pages.c.id.in_(bindparam("ids", expanding=True)))
_SET_PAGE = update(_pages).where(_pages.c.id == bindparam("page"))
# An SMS still `sending` counts from its claim: kicked incidents are claimed while another
# batch for the same engineer may be in flight.
_sms_at = func.coalesce(_pages.c.sent_at, _pages.c.claimed_at)
_RECENT_SMS = select(_sms_at).where(
    _pages.c.engineer == bindparam("engineer"),
    _pages.c.channel == "sms",
    _pages.c.status.in_(("sending", "sent", "delivered")),
    _sms_at > bindparam("since"),
)


@dataclass(frozen=True, slots=True)
class SendJob:
    """A claimed page row (now `sending`) and the message it sends."""

    row: Any
    page: OutboundPage
    bundled: tuple[int, ...] = ()


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
        results = await asyncio.gather(*(self._send(job) for job in jobs))
        done = self._clock.now()
        rules: Rules = self._rules.rules
        await self._db.transaction(lambda conn: _record(conn, jobs, results, done, rules))
        return sum(isinstance(result, ChannelError) for result in results)

    async def recover(self, *, older_than: datetime) -> int:
        """Settle rows left `sending` by a dead process: sent if the provider has them."""
        stuck = await self._db.transaction(
            lambda conn: conn.execute(
                select(_pages).where(_pages.c.status == "sending", _pages.c.claimed_at < older_than)
            ).all()
        )
        for row in stuck:
            provider_id = await self._find_sent(row)
            await self._db.transaction(partial(_settle, row=row, provider_id=provider_id))
        return len(stuck)

    async def _find_sent(self, row: Any) -> str | None:
        channel = self._channels.get(row.channel)
        finder = getattr(channel, "find_sent", None)
        if finder is None or row.claimed_at is None:
            return None
        since = as_utc(row.claimed_at) - timedelta(seconds=5)
        try:
            text = (row.payload or {}).get("sent_text") or row.text
            owned = await self._db.transaction(partial(_provider_ids, address=row.address))
            found: str | None = await finder(row.address, since, text, owned)
        except ChannelError as exc:
            log.warning("could not check page %s at the provider: %s", row.id, exc.code)
            return None
        return found

    def claim(
        self, conn: Connection, now: datetime, *, incidents: Collection[int] | None = None
    ) -> list[SendJob]:
        """Mark due pending pages `sending` (those of `incidents` only, if given); their jobs.

        Run it in the transaction that wrote the rows and no other process ever sees them
        pending: what commits is a page written and claimed, to be sent by this process.
        """
        if incidents is None:
            due = conn.execute(claim(_DUE, conn, of=_pages), {"now": now}).all()
        else:
            among = {"now": now, "incidents": sorted(incidents)}
            due = conn.execute(claim(_DUE_AMONG, conn, of=_pages), among).all()
        live = []
        for row in due:
            if row.kind in _NEEDS_TRIGGERED and row.incident_state != "triggered":
                _set(
                    conn, [row.id], status="cancelled", last_error=f"incident {row.incident_state}"
                )
            else:
                live.append(row)
        jobs = self._throttled(conn, live, now)
        if jobs:
            conn.execute(_SET_PAGE, [_sending(job, now) for job in jobs])
        for job in jobs:
            # Marked with the carrying row, so a crash mid-send settles them together.
            _set(
                conn,
                job.bundled,
                status="bundled",
                claimed_at=now,
                provider_id=_carrier(job.row.id),
            )
        return jobs

    def _throttled(self, conn: Connection, rows: Sequence[Any], now: datetime) -> list[SendJob]:
        """Hold SMS over an engineer's limit; merge held pages into one bundle message.

        Only pages bundle: a reminder or resolved note goes alone when the limit allows, and a
        sign-in code or test page (asked for by the engineer) is neither held nor merged.
        """
        jobs = [SendJob(row, _outbound(row)) for row in rows if _unthrottled(row)]
        by_engineer: dict[str, list[Any]] = {}
        for row in rows:
            if not _unthrottled(row):
                by_engineer.setdefault(row.engineer, []).append(row)
        throttled = self._throttle.min_interval > timedelta(0) or self._throttle.per_window > 0
        for engineer, sms in by_engineer.items():
            recent = _recent_sms(conn, engineer, now) if throttled else []
            allowed = self._throttle.next_allowed(recent, now)
            if allowed > now:
                _set(conn, [r.id for r in sms], next_attempt_at=allowed)
                continue
            pages = [r for r in sms if r.kind == PageKind.PAGE.value]
            others = [r for r in sms if r.kind != PageKind.PAGE.value]
            jobs.append(_bundle(pages) if pages else SendJob(others[0], _outbound(others[0])))
            # What could not go in this SMS waits for the next allowed moment.
            later = others[1:] if not pages else others
            _set(conn, [r.id for r in later], next_attempt_at=now + self._throttle.min_interval)
        return jobs

    async def _send(self, job: SendJob) -> Delivery | ChannelError:
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
    """Send, or for a Slack resolved note, update the original message in place."""
    target = (job.row.payload or {}).get("update")
    updater = getattr(channel, "update_message", None)
    if job.page.kind is PageKind.RESOLVED_NOTE and target and updater is not None:
        conversation, _, ts = str(target).partition(":")
        await updater(
            conversation, ts, text=slack_fallback(job.page), blocks=slack_blocks(job.page)
        )
        return Delivery(str(target), "updated")
    return await channel.send(job.page)


def _unthrottled(row: Any) -> bool:
    return row.channel != "sms" or row.kind in (PageKind.TEST.value, PageKind.NOTICE.value)


def _outbound(row: Any, *, text: str | None = None, kind: PageKind | None = None) -> OutboundPage:
    payload = row.payload or {}
    return OutboundPage(
        page_id=row.id,
        engineer_id=row.engineer,
        channel=row.channel,
        to=row.address,
        kind=kind or PageKind(row.kind),
        incident_id=row.incident_id,
        text=text or row.text,
        title=payload.get("title") or "",
        severity=Severity(payload["severity"]) if payload.get("severity") else None,
        customer=payload.get("customer"),
        system=payload.get("system"),
        summary=payload.get("summary") or "",
        why=payload.get("why"),
        runbook_url=payload.get("runbook_url"),
        incident_url=payload.get("incident_url"),
    )


def _bundle(rows: list[Any]) -> SendJob:
    """One SMS for several due pages: the first page in full, or a bundle of them all."""
    if len(rows) == 1:
        return SendJob(rows[0], _outbound(rows[0]))
    items = [
        BundleItem(
            r.incident_id or 0,
            (r.payload or {}).get("system"),
            (r.payload or {}).get("summary") or r.text,
        )
        for r in rows
    ]
    link = (rows[0].payload or {}).get("incident_url")
    text = bundle_text(items, link=link.rsplit("/i/", 1)[0] if link else None)
    page = _outbound(rows[0], text=text, kind=PageKind.BUNDLE)
    return SendJob(rows[0], page, tuple(r.id for r in rows[1:]))


def _recent_sms(conn: Connection, engineer: str, now: datetime) -> list[datetime]:
    since = now - timedelta(minutes=15)
    found = conn.execute(_RECENT_SMS, {"engineer": engineer, "since": since}).scalars()
    return [as_utc(at) for at in found]


def _sending(job: SendJob, now: datetime) -> dict[str, Any]:
    """`_SET_PAGE` parameters claiming a job's row for this process."""
    return {
        "page": job.row.id,
        "status": "sending",
        "claimed_at": now,
        "claimed_by": PROCESS_ID,
        "attempts": job.row.attempts + 1,
        # What the provider will hold, so a crash mid-send can be looked up there.
        "payload": {**(job.row.payload or {}), "sent_text": _provider_text(job.page)},
    }


def _set(conn: Connection, ids: Sequence[int], **values: Any) -> None:
    if ids:
        conn.execute(update(_pages).where(_pages.c.id.in_(ids)).values(**values))


def _record(
    conn: Connection,
    jobs: Sequence[SendJob],
    results: Sequence[Delivery | ChannelError],
    now: datetime,
    rules: Rules,
) -> None:
    fresh = {row.id: row for row in conn.execute(_PAGES, {"ids": [job.row.id for job in jobs]})}
    for job, result in zip(jobs, results, strict=True):
        row = fresh[job.row.id]
        if isinstance(result, Delivery):
            record_sent(conn, row.id, result.provider_id, now)
            _set(conn, job.bundled, status="sent", sent_at=now, provider_id=result.provider_id)
        else:
            # A failed bundle's other pages go back to the queue with it.
            _set(conn, job.bundled, status="pending", provider_id=None)
            record_error(conn, row, result, now, rules)
        retrying = isinstance(result, ChannelError) and will_retry(result, row, now)
        if (row.payload or {}).get("secret") and not retrying:
            _set(conn, [row.id], text="(secret removed after sending)", payload={"secret": True})


def _provider_ids(conn: Connection, *, address: str) -> set[str]:
    """Provider ids already recorded for pages to `address` (so a lookup never reuses one)."""
    found = conn.execute(
        select(_pages.c.provider_id).where(
            _pages.c.address == address, _pages.c.provider_id.is_not(None)
        )
    ).scalars()
    return set(found)


def _provider_text(page: OutboundPage) -> str:
    return slack_fallback(page) if page.channel == "slack" else page.text


def _carrier(page_id: int) -> str:
    return f"bundle:{page_id}"


def _settle(conn: Connection, row: Any, provider_id: str | None) -> None:
    passengers = (
        conn.execute(
            select(_pages.c.id).where(
                _pages.c.status == "bundled", _pages.c.provider_id == _carrier(row.id)
            )
        )
        .scalars()
        .all()
    )
    if provider_id is not None:
        sent_at = as_utc(row.claimed_at)
        record_sent(conn, row.id, provider_id, sent_at)
        _set(conn, passengers, status="sent", sent_at=sent_at, provider_id=provider_id)
    else:
        _set(conn, [row.id], status="pending", last_error="re-sent after a crash")
        _set(conn, passengers, status="pending", provider_id=None)
