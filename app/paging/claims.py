"""Claiming due outbox rows for this process: the first half of a send.

A claim cancels the pages of incidents no longer triggered, holds SMS over an engineer's limit,
merges an engineer's due pages into one bundle SMS, and marks what goes out `sending` with the
text the provider will hold (so a crash mid-send can be looked up there). It runs inside its
caller's transaction: the sender's own, or the tick's that wrote the rows (the express lane).
"""

import os
import socket
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.core.alert import Severity
from app.core.incident import IncidentState
from app.paging.base import OutboundPage, PageKind
from app.paging.text import BundleItem, bundle_text, slack_fallback
from app.paging.throttle import SmsThrottle
from app.store.tables import Base
from app.store.upsert import claim

_pages = Base.metadata.tables["pages"]
_incidents = Base.metadata.tables["incidents"]
_BATCH = 100
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


def claim_due(
    conn: Connection,
    now: datetime,
    *,
    throttle: SmsThrottle,
    incidents: Collection[int] | None = None,
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
        if row.kind in _NEEDS_TRIGGERED and row.incident_state != IncidentState.TRIGGERED:
            update_pages(
                conn, [row.id], status="cancelled", last_error=f"incident {row.incident_state}"
            )
        else:
            live.append(row)
    jobs = _throttled(conn, live, now, throttle)
    if jobs:
        conn.execute(_SET_PAGE, [_sending(job, now) for job in jobs])
    for job in jobs:
        # Marked with the carrying row, so a crash mid-send settles them together.
        update_pages(
            conn, job.bundled, status="bundled", claimed_at=now, provider_id=carrier(job.row.id)
        )
    return jobs


def update_pages(conn: Connection, ids: Sequence[int], **values: Any) -> None:
    """Set `values` on the page rows `ids` (none: nothing to do)."""
    if ids:
        conn.execute(update(_pages).where(_pages.c.id.in_(ids)).values(**values))


def carrier(page_id: int) -> str:
    """What a bundled page's provider id says until its bundle is settled: the row carrying it."""
    return f"bundle:{page_id}"


def _throttled(
    conn: Connection, rows: Sequence[Any], now: datetime, throttle: SmsThrottle
) -> list[SendJob]:
    """Hold SMS over an engineer's limit; merge held pages into one bundle message.

    Only pages bundle: a reminder or resolved note goes alone when the limit allows, and a
    sign-in code or test page (asked for by the engineer) is neither held nor merged.
    """
    jobs = [SendJob(row, _outbound(row)) for row in rows if _unthrottled(row)]
    by_engineer: dict[str, list[Any]] = {}
    for row in rows:
        if not _unthrottled(row):
            by_engineer.setdefault(row.engineer, []).append(row)
    limited = throttle.min_interval > timedelta(0) or throttle.per_window > 0
    for engineer, sms in by_engineer.items():
        recent = _recent_sms(conn, engineer, now) if limited else []
        allowed = throttle.next_allowed(recent, now)
        if allowed > now:
            update_pages(conn, [r.id for r in sms], next_attempt_at=allowed)
            continue
        pages = [r for r in sms if r.kind == PageKind.PAGE.value]
        others = [r for r in sms if r.kind != PageKind.PAGE.value]
        jobs.append(_bundle(pages) if pages else SendJob(others[0], _outbound(others[0])))
        # What could not go in this SMS waits for the next allowed moment.
        later = others[1:] if not pages else others
        update_pages(conn, [r.id for r in later], next_attempt_at=now + throttle.min_interval)
    return jobs


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
        state=payload.get("state"),
        status=payload.get("status"),
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
        "payload": {**(job.row.payload or {}), "sent_text": provider_text(job.page)},
    }


def provider_text(page: OutboundPage) -> str:
    """The text the provider holds for `page` (what `find_sent` looks for)."""
    return slack_fallback(page) if page.channel == "slack" else page.text
