"""What a claim sends: the messages of due outbox rows, after the SMS throttle and bundling.

Pure: the outbox (`outbox.claim_due`) reads the due rows and each engineer's recent SMS, asks
`plan_sends` what goes out now and what waits, and writes the answer. SMS over an engineer's
limit are held; an engineer's due pages merge into one bundle SMS.
"""

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.core.alert import Severity
from app.paging.base import OutboundPage, PageKind
from app.paging.requests import PagePayload
from app.paging.text import BundleItem, bundle_text, slack_fallback
from app.paging.throttle import SmsThrottle

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class SendJob:
    """A claimed page row (now `sending`) and the message it sends."""

    row: Any
    page: OutboundPage
    bundled: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    """What a claim does with due rows: the jobs sent now, and rows held until a later time."""

    jobs: list[SendJob] = field(default_factory=list)
    held: list[tuple[list[int], datetime]] = field(default_factory=list)


def throttled_engineers(rows: Sequence[Any]) -> set[str]:
    """Engineers with due rows the SMS throttle applies to (their recent SMS are needed)."""
    return {row.engineer for row in rows if not _unthrottled(row)}


def plan_sends(
    rows: Sequence[Any],
    recent: Mapping[str, Sequence[datetime]],
    now: datetime,
    throttle: SmsThrottle,
) -> ClaimPlan:
    """Hold SMS over an engineer's limit (given their `recent` SMS); merge held pages into one
    bundle message.

    Only pages bundle: a reminder or resolved note goes alone when the limit allows, and a
    sign-in code or test page (asked for by the engineer) is neither held nor merged.
    """
    plan = ClaimPlan([SendJob(row, outbound(row)) for row in rows if _unthrottled(row)])
    by_engineer: dict[str, list[Any]] = {}
    for row in rows:
        if not _unthrottled(row):
            by_engineer.setdefault(row.engineer, []).append(row)
    for engineer, sms in by_engineer.items():
        allowed = throttle.next_allowed(recent.get(engineer, ()), now)
        if allowed > now:
            plan.held.append(([r.id for r in sms], allowed))
            continue
        pages = [r for r in sms if r.kind == PageKind.PAGE.value]
        pages += [r for r in sms if _missed(r)]  # after the pages: a line of their bundle
        others = [r for r in sms if r.kind != PageKind.PAGE.value and not _missed(r)]
        plan.jobs.append(_bundle(pages) if pages else SendJob(others[0], outbound(others[0])))
        # What could not go in this SMS waits for the next allowed moment.
        later = others[1:] if not pages else others
        plan.held.append(([r.id for r in later], now + throttle.min_interval))
    return plan


def carrier(page_id: int) -> str:
    """What a bundled page's provider id says until its bundle is settled: the row carrying it."""
    return f"bundle:{page_id}"


def provider_text(page: OutboundPage) -> str:
    """The text the provider holds for `page` (what `find_sent` looks for)."""
    return slack_fallback(page) if page.channel == "slack" else page.text


def outbound(row: Any, *, text: str | None = None, kind: PageKind | None = None) -> OutboundPage:
    """The message a page row sends (`text` and `kind` replaced for a bundle)."""
    payload = PagePayload.from_json(row.payload)
    return OutboundPage(
        page_id=row.id,
        engineer_id=row.engineer,
        channel=row.channel,
        to=row.address,
        kind=kind or PageKind(row.kind),
        incident_id=row.incident_id,
        text=text or row.text,
        title=payload.title or "",
        severity=Severity(payload.severity) if payload.severity else None,
        customer=payload.customer,
        system=payload.system,
        summary=payload.summary or "",
        why=payload.why,
        runbook_url=payload.runbook_url,
        incident_url=payload.incident_url,
        state=payload.state,
        status=payload.status,
    )


def _missed(row: Any) -> bool:
    return row.kind == PageKind.RESOLVED_NOTE.value and PagePayload.from_json(row.payload).missed


def _unthrottled(row: Any) -> bool:
    return row.channel != "sms" or row.kind in (PageKind.TEST.value, PageKind.NOTICE.value)


def _bundle(rows: list[Any]) -> SendJob:
    """One SMS for several due pages: the first page in full, or a bundle of them all."""
    if len(rows) == 1:
        return SendJob(rows[0], outbound(rows[0]))
    payloads = [PagePayload.from_json(r.payload) for r in rows]
    items = [
        BundleItem(r.incident_id or 0, p.system, p.summary or r.text)
        for r, p in zip(rows, payloads, strict=True)
    ]
    link = payloads[0].incident_url
    text = bundle_text(items, link=link.rsplit("/i/", 1)[0] if link else None)
    page = outbound(rows[0], text=text, kind=PageKind.BUNDLE)
    return SendJob(rows[0], page, tuple(r.id for r in rows[1:]))
