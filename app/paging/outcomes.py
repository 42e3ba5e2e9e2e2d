"""What happens to a page after a send: sent, retried later, or failed with a fallback.

Runs inside the transaction of whoever learned the result (the sender, or Twilio's status
callback). A failed channel falls back at once to the engineer's unlisted contacts; when every
channel of theirs has failed, the incident core hears it through `PageReports` (and moves its
ladder on at once). Paging writes page rows through the outbox and never writes incidents.
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.heartbeats.providers import note_provider_error
from app.paging import outbox
from app.paging.base import ChannelError, PageKind
from app.paging.outbox import Held
from app.paging.requests import fallbacks
from app.routing.rules import Rules
from app.store import engineer_states
from app.store.tables import Base

log = logging.getLogger(__name__)

# Retryable failures (5xx, 429, timeouts) are retried for this long after the page was written:
# a provider outage of a few minutes delays pages but loses none.
RETRY_WINDOW = timedelta(minutes=15)
_BAD_NUMBER = ("21211", "21614")  # Twilio: invalid number, not a mobile number
_states = Base.metadata.tables["engineer_states"]
# Twilio delivery receipts (messages, then calls) that fail a page.
_FAILED = frozenset({"failed", "undelivered", "busy", "no-answer", "canceled"})


@dataclass(frozen=True, slots=True)
class FellBack:
    """A page to `engineer` failed on `channel` and is sent again on the channels `to`."""

    incident_id: int
    engineer: str
    channel: str
    to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Every channel of `engineer` failed for a page of the incident (`channel` failed last)."""

    incident_id: int
    engineer: str
    channel: str
    kind: PageKind
    cycle: int


PageOutcome = FellBack | Unreachable | Held


class PageReports(Protocol):
    """How paging tells the incident core what became of an incident's page."""

    def report(self, conn: Connection, outcome: PageOutcome, now: datetime) -> None:
        """Record `outcome` on its incident, in `conn`'s transaction."""


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with jitter (1 s, 2 s, 4 s … capped at 1 min), or the provider's."""
    if retry_after is not None:
        return timedelta(seconds=min(retry_after, 900))
    base = min(2 ** max(attempts - 1, 0), 60)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not crypto


def will_retry(error: ChannelError, page: Any, now: datetime) -> bool:
    """Whether a failed send is tried again: retryable, and still within RETRY_WINDOW."""
    return error.retryable and now - as_utc(page.created_at) < RETRY_WINDOW


def record_error(
    conn: Connection,
    page: Any,
    error: ChannelError,
    now: datetime,
    *,
    rules: Rules,
    reports: PageReports,
) -> None:
    """Retry a retryable failure later; fail a permanent one (and fall back)."""
    failure = error.as_provider_failure()
    note_provider_error(conn, channel=page.channel, page_id=page.id, error=failure, now=now)
    if will_retry(error, page, now):
        at = now + backoff(page.attempts, error.retry_after)
        outbox.retry_later(conn, page.id, at, f"{error.code}: {error.message}")
        return
    if error.contact_unhealthy:
        engineer_states.mark_unhealthy(conn, page.engineer, page.channel, error.code, now)
    if error.config_error:
        log.error("%s is misconfigured (%s); check its settings", page.channel, error.code)
    fail_page(conn, page, f"{error.code}: {error.message}", now, rules=rules, reports=reports)


def record_receipt(
    conn: Connection,
    *,
    provider_id: str,
    status: str,
    error: str | None,
    now: datetime,
    rules: Rules,
    reports: PageReports,
) -> bool:
    """A provider's delivery receipt (Twilio `MessageStatus` or `CallStatus`) for a page.

    `delivered` is recorded; a failure fails the page at once (and falls back). True when it
    failed one: its fallbacks, or the ladder's next step, are due now.
    """
    page = outbox.by_provider_id(conn, provider_id)
    if page is None or page.status in ("failed", "delivered"):
        return False
    if status == "delivered":
        outbox.record_delivered(conn, page.id, now)
        return False
    if status not in _FAILED:
        return False
    reason = f"twilio {status}" + (f" ({error})" if error else "")
    fail_page(conn, page, reason, now, rules=rules, reports=reports)
    return True


def fail_page(
    conn: Connection, page: Any, reason: str, now: datetime, *, rules: Rules, reports: PageReports
) -> None:
    """Mark a page failed; fall back to unlisted contacts, or report the engineer unreachable."""
    outbox.record_failed(conn, page.id, reason)
    if page.incident_id is None or page.kind == PageKind.UPDATE.value:
        return  # an update that failed leaves a stale message: nothing to fall back to
    siblings = outbox.same_step(conn, page)
    tried = {s.channel for s in siblings}
    if reason.startswith(_BAD_NUMBER):
        tried.add("voice")  # the number itself is wrong: calling it fails too
    engineer = rules.engineers.get(page.engineer)
    requests = fallbacks(page, engineer, tried) if engineer is not None else []
    if outbox.enqueue(conn, requests, now=now):
        to = tuple(r.channel for r in requests)
        reports.report(conn, FellBack(page.incident_id, page.engineer, page.channel, to), now)
    elif all(s.status == "failed" or s.channel == page.channel for s in siblings):
        outcome = Unreachable(
            page.incident_id, page.engineer, page.channel, PageKind(page.kind), page.cycle
        )
        reports.report(conn, outcome, now)
