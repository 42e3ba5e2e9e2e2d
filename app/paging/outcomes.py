"""What happens to a page after a send: sent, retried later, or failed with a fallback.

Runs inside the transaction of whoever learned the result (the sender, or Twilio's status
callback). A failed channel falls back at once to the engineer's unlisted contacts; when every
channel of theirs has failed, the incident records it and its ladder moves on at once.
"""

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.escalation.outbox import address_of, fallback_channels
from app.escalation.timeline import record_event
from app.heartbeats.providers import note_provider_error
from app.paging.base import ChannelError, PageKind
from app.routing.rules import Rules
from app.store.tables import Base
from app.store.upsert import insert_ignore

log = logging.getLogger(__name__)

# Retryable failures (5xx, 429, timeouts) are retried for this long after the page was written:
# a provider outage of a few minutes delays pages but loses none.
RETRY_WINDOW = timedelta(minutes=15)
_BAD_NUMBER = ("21211", "21614")  # Twilio: invalid number, not a mobile number
_pages = Base.metadata.tables["pages"]
_incidents = Base.metadata.tables["incidents"]
_states = Base.metadata.tables["engineer_states"]
_SET_PAGE = update(_pages).where(_pages.c.id == bindparam("page"))  # built once: a hot path


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with jitter (1 s, 2 s, 4 s … capped at 1 min), or the provider's."""
    if retry_after is not None:
        return timedelta(seconds=min(retry_after, 900))
    base = min(2 ** max(attempts - 1, 0), 60)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not crypto


def will_retry(error: ChannelError, page: Any, now: datetime) -> bool:
    """Whether a failed send is tried again: retryable, and still within RETRY_WINDOW."""
    return error.retryable and now - as_utc(page.created_at) < RETRY_WINDOW


def record_sent(conn: Connection, page_id: int, provider_id: str, now: datetime) -> None:
    """The provider accepted the page."""
    values = {"status": "sent", "sent_at": now, "provider_id": provider_id, "last_error": None}
    conn.execute(_SET_PAGE, {"page": page_id, **values})


def record_error(
    conn: Connection, page: Any, error: ChannelError, now: datetime, rules: Rules
) -> None:
    """Retry a retryable failure later; fail a permanent one (and fall back)."""
    note_provider_error(conn, channel=page.channel, page_id=page.id, error=error, now=now)
    if will_retry(error, page, now):
        conn.execute(
            update(_pages)
            .where(_pages.c.id == page.id)
            .values(
                status="pending",
                next_attempt_at=now + backoff(page.attempts, error.retry_after),
                last_error=f"{error.code}: {error.message}"[:500],
            )
        )
        return
    if error.contact_unhealthy:
        mark_unhealthy(conn, page.engineer, page.channel, error.code, now)
    if error.config_error:
        log.error("%s is misconfigured (%s); check its settings", page.channel, error.code)
    fail_page(conn, page, f"{error.code}: {error.message}", now, rules)


def mark_unhealthy(
    conn: Connection, engineer: str, channel: str, reason: str, now: datetime
) -> None:
    """Flag an engineer's channel as unable to receive (shown by `check` and the dashboard)."""
    column = f"{channel}_unhealthy"
    if column not in _states.c:
        return
    values = {column: reason[:200], "updated_at": now}
    insert_ignore(conn, _states, [{"engineer": engineer, **values}])
    conn.execute(update(_states).where(_states.c.engineer == engineer).values(**values))


def fail_page(conn: Connection, page: Any, reason: str, now: datetime, rules: Rules) -> None:
    """Mark a page failed; fall back to unlisted contacts, or let the ladder move on."""
    conn.execute(
        update(_pages)
        .where(_pages.c.id == page.id)
        .values(status="failed", last_error=reason[:500])
    )
    if page.incident_id is None or page.kind == PageKind.UPDATE.value:
        return  # an update that failed leaves a stale message: nothing to fall back to
    siblings = (
        conn.execute(
            select(_pages.c.channel, _pages.c.status).where(
                _pages.c.incident_id == page.incident_id,
                _pages.c.cycle == page.cycle,
                _pages.c.step == page.step,
                _pages.c.round == page.round,
                _pages.c.engineer == page.engineer,
                _pages.c.kind == page.kind,
            )
        )
    ).all()
    tried = {s.channel for s in siblings}
    if reason.startswith(_BAD_NUMBER):
        tried.add("voice")  # the number itself is wrong: calling it fails too
    if _fall_back(conn, page, tried, now, rules):
        return
    if all(s.status == "failed" or s.channel == page.channel for s in siblings):
        _all_channels_failed(conn, page, now)


def _fall_back(conn: Connection, page: Any, tried: set[str], now: datetime, rules: Rules) -> bool:
    engineer = rules.engineers.get(page.engineer)
    if engineer is None:
        return False
    rows = []
    critical = (page.payload or {}).get("severity") == "critical"
    for channel in fallback_channels(engineer, tried=tried, critical=critical):
        address = address_of(engineer, channel)
        if address is None:
            continue
        rows.append(
            {
                "incident_id": page.incident_id,
                "engineer": page.engineer,
                "channel": channel.value,
                "address": address,
                "kind": page.kind,
                "cycle": page.cycle,
                "step": page.step,
                "round": page.round,
                "text": page.text,
                "payload": page.payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "fallback_of": page.id,
            }
        )
    inserted = insert_ignore(conn, _pages, rows)
    if inserted:
        record_event(
            conn,
            page.incident_id,
            now,
            kind="fallback",
            actor=page.engineer,
            channel=page.channel,
            note=f"{page.channel} failed; falling back to {', '.join(r['channel'] for r in rows)}",
        )
    return bool(inserted)


def _all_channels_failed(conn: Connection, page: Any, now: datetime) -> None:
    record_event(
        conn,
        page.incident_id,
        now,
        kind="page_failed",
        actor=page.engineer,
        channel=page.channel,
        note=f"could not reach {page.engineer} on any channel",
    )
    if page.kind != "page":
        return
    # The ladder moves on at once, if it is still at this page's cycle.
    conn.execute(
        update(_incidents)
        .where(
            _incidents.c.id == page.incident_id,
            _incidents.c.state == "triggered",
            _incidents.c.cycle == page.cycle,
            _incidents.c.next_action_at > now,
        )
        .values(next_action_at=now)
    )
