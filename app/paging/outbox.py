"""The outbox: the only code that writes the `pages` table.

Every page is a row before any provider is called. `enqueue` writes page requests, skipping any
whose page exists already (the unique key `uq_pages_once`: one page per incident, cycle, step,
round, engineer, channel and kind), so a retried tick, a second replica or a restart never
pages twice for one step. `claim_due` marks due rows `sending` before their provider calls;
the `record_*` functions write what came of them, and crash recovery settles rows a dead
process left `sending`. Each function runs inside its caller's transaction.
"""

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.core.incident import IncidentState
from app.paging.base import PageKind
from app.paging.claims import (
    PROCESS_ID,
    SendJob,
    carrier,
    plan_sends,
    provider_text,
    throttled_engineers,
)
from app.paging.requests import PagePayload, PageRequest
from app.paging.throttle import SmsThrottle
from app.store.tables import Base
from app.store.upsert import claim

_pages = Base.metadata.tables["pages"]
_incidents = Base.metadata.tables["incidents"]
_BATCH = 100
_NEEDS_TRIGGERED = {PageKind.PAGE.value, PageKind.BUNDLE.value}
_PAGED = (PageKind.PAGE.value, PageKind.BUNDLE.value)
# The statements of the paging path are built once and run with parameters: SQLAlchemy then
# skips building and hashing them on every call, which cost several times their execution.
_INSERT = {
    "postgresql": postgresql.insert(_pages).on_conflict_do_nothing().returning(_pages.c.id),
    "sqlite": sqlite.insert(_pages).on_conflict_do_nothing().returning(_pages.c.id),
}
_DUE = (
    select(_pages, _incidents.c.state.label("incident_state"))
    .outerjoin(_incidents, _incidents.c.id == _pages.c.incident_id)
    .where(_pages.c.status == "pending", _pages.c.next_attempt_at <= bindparam("now"))
    .order_by(_pages.c.id)
    .limit(_BATCH)
)
_DUE_AMONG = _DUE.where(_pages.c.incident_id.in_(bindparam("incidents", expanding=True)))
_SET_PAGE = update(_pages).where(_pages.c.id == bindparam("page"))
_PAGES = select(_pages).where(_pages.c.id.in_(bindparam("ids", expanding=True)))
# An SMS still `sending` counts from its claim: kicked incidents are claimed while another
# batch for the same engineer may be in flight.
_sms_at = func.coalesce(_pages.c.sent_at, _pages.c.claimed_at)
_RECENT_SMS = select(_sms_at).where(
    _pages.c.engineer == bindparam("engineer"),
    _pages.c.channel == "sms",
    _pages.c.status.in_(("sending", "sent", "delivered")),
    _sms_at > bindparam("since"),
)


def enqueue(conn: Connection, requests: Sequence[PageRequest], *, now: datetime) -> list[int]:
    """Write page requests as pending rows due `now`; ids of the rows written.

    A request whose page exists (unique key) is skipped, not an error: writing the same step's
    pages again writes nothing.
    """
    statement = _INSERT[conn.dialect.name]
    written = (conn.execute(statement, _row(r, now)).scalar_one_or_none() for r in requests)
    return [page_id for page_id in written if page_id is not None]


@dataclass(frozen=True, slots=True)
class Held:
    """An incident's SMS page the throttle holds for the engineer's next bundle (reported once,
    when first held)."""

    incident_id: int
    engineer: str
    channel: str
    until: datetime


# What a held row's last_error says: the mark `held_sms` finds it by.
HELD_MARK = "held by the SMS throttle"


def claim_due(
    conn: Connection,
    now: datetime,
    *,
    throttle: SmsThrottle,
    incidents: Collection[int] | None = None,
    on_held: Callable[[Held], None] | None = None,
) -> list[SendJob]:
    """Mark due pending pages `sending` (those of `incidents` only, if given); their jobs.

    Pages of incidents no longer triggered are cancelled; SMS over an engineer's limit wait
    (claims.plan_sends). Run it in the transaction that wrote the rows and no other process
    ever sees them pending: what commits is a page written and claimed, to be sent by this
    process.
    """
    if incidents is None:
        due = conn.execute(claim(_DUE, conn, of=_pages), {"now": now}).all()
    else:
        among = {"now": now, "incidents": sorted(incidents)}
        due = conn.execute(claim(_DUE_AMONG, conn, of=_pages), among).all()
    live = []
    for row in due:
        if row.kind in _NEEDS_TRIGGERED and row.incident_state != IncidentState.TRIGGERED:
            _set(conn, [row.id], status="cancelled", last_error=f"incident {row.incident_state}")
        else:
            live.append(row)
    limited = throttle.min_interval > timedelta(0) or throttle.per_window > 0
    engineers = throttled_engineers(live) if limited else set()
    plan = plan_sends(live, {e: _recent_sms(conn, e, now) for e in engineers}, now, throttle)
    rows = {row.id: row for row in live}
    for ids, until in plan.held:
        _set(conn, ids, next_attempt_at=until, last_error=HELD_MARK)
        for held in (rows[i] for i in ids):
            first = held.last_error != HELD_MARK
            if first and on_held is not None and held.kind == PageKind.PAGE.value:
                on_held(Held(held.incident_id, held.engineer, held.channel, until))
    if plan.jobs:
        conn.execute(_SET_PAGE, [_sending(job, now) for job in plan.jobs])
    for job in plan.jobs:
        # Marked with the carrying row, so a crash mid-send settles them together.
        _set(conn, job.bundled, status="bundled", claimed_at=now, provider_id=carrier(job.row.id))
    return plan.jobs


def record_sent(
    conn: Connection,
    page_id: int,
    provider_id: str,
    now: datetime,
    *,
    bundled: Sequence[int] = (),
) -> None:
    """The provider accepted the page (and the `bundled` pages it carried)."""
    values = {"status": "sent", "sent_at": now, "provider_id": provider_id, "last_error": None}
    conn.execute(_SET_PAGE, {"page": page_id, **values})
    _set(conn, bundled, status="sent", sent_at=now, provider_id=provider_id)


def record_delivered(conn: Connection, page_id: int, now: datetime) -> None:
    """The provider reports the page delivered to the phone."""
    _set(conn, [page_id], status="delivered", delivered_at=now)


def retry_later(conn: Connection, page_id: int, at: datetime, error: str) -> None:
    """A send failed in a way worth retrying: the page is due again `at`."""
    _set(conn, [page_id], status="pending", next_attempt_at=at, last_error=error[:500])


def record_failed(conn: Connection, page_id: int, reason: str) -> None:
    """The page failed for good (its fallbacks are new rows)."""
    _set(conn, [page_id], status="failed", last_error=reason[:500])


def requeue(conn: Connection, ids: Sequence[int]) -> None:
    """Pages a failed bundle carried go back to the queue."""
    _set(conn, ids, status="pending", provider_id=None)


def forget_secret(conn: Connection, page_id: int) -> None:
    """A secret page (sign-in code) has gone: its text is not kept."""
    _set(conn, [page_id], text="(secret removed after sending)", payload={"secret": True})


def cancel_pending_pages(conn: Connection, incident_id: int) -> None:
    """Nobody is paged after an ack: drop pages not yet handed to a provider."""
    conn.execute(
        update(_pages)
        .where(
            _pages.c.incident_id == incident_id,
            _pages.c.status == "pending",
            _pages.c.kind.in_(_PAGED),
        )
        .values(status="cancelled", last_error="incident no longer triggered")
    )


# Messages a later action edits in place: what stays on screen (a Slack DM; an SMS is gone).
_SHOWN_CHANNELS = ("slack",)
_SHOWN_KINDS = (PageKind.PAGE.value, PageKind.BUNDLE.value, PageKind.REMINDER.value)
RESTATE_STEP = -2  # the step of update rows: they belong to no ladder position
_MESSAGES = (
    select(_pages.c.engineer, _pages.c.channel, _pages.c.provider_id, _pages.c.payload)
    .where(
        _pages.c.incident_id == bindparam("incident"),
        _pages.c.channel.in_(_SHOWN_CHANNELS),
        _pages.c.kind.in_(_SHOWN_KINDS),
        _pages.c.provider_id.is_not(None),
    )
    .order_by(_pages.c.id)
)


def held_sms(conn: Connection, incident_id: int) -> set[str]:
    """Engineers whose SMS page about the incident the throttle still holds."""
    query = select(_pages.c.engineer).where(
        _pages.c.incident_id == incident_id,
        _pages.c.status == "pending",
        _pages.c.kind.in_(_PAGED),
        _pages.c.last_error == HELD_MARK,
    )
    return set(conn.execute(query).scalars())


def engineers_paged(conn: Connection, incident_id: int) -> set[str]:
    """Engineers a page about the incident reached (sent or delivered)."""
    query = (
        select(_pages.c.engineer)
        .where(
            _pages.c.incident_id == incident_id,
            _pages.c.kind.in_(_PAGED),
            _pages.c.status.in_(("sent", "delivered")),
        )
        .distinct()
    )
    return set(conn.execute(query).scalars())


def messages_of(conn: Connection, incident_id: int) -> list[PageRequest]:
    """An update request (not yet numbered) for each message about the incident that stays on
    screen, addressed to the message itself."""
    return [
        PageRequest(
            row.engineer,
            row.channel,
            str(row.provider_id),
            PageKind.UPDATE,
            "",
            PagePayload.from_json(row.payload),
            incident_id=incident_id,
            step=RESTATE_STEP,
        )
        for row in conn.execute(_MESSAGES, {"incident": incident_id})
    ]


def enqueue_updates(
    conn: Connection, updates: Sequence[PageRequest], *, cycle: int, now: datetime
) -> int:
    """Write update requests, each its own page: numbered (`round`) after the incident's update
    rows so far, counted under the incident's lock, so a later action's update is a new page
    and a replayed one is not; how many were written."""
    if not updates:
        return 0
    done = conn.execute(
        select(func.count()).where(
            _pages.c.incident_id == updates[0].incident_id,
            _pages.c.kind == PageKind.UPDATE.value,
        )
    ).scalar_one()
    numbered = [replace(u, cycle=cycle, round=done + i) for i, u in enumerate(updates)]
    return len(enqueue(conn, numbered, now=now))


def settle_in_flight(conn: Connection, row: Any, provider_id: str | None) -> None:
    """Settle a row a dead process left `sending`: sent if the provider has it (`provider_id`),
    else pending again to be re-sent; the pages it carried go with it."""
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
        record_sent(conn, row.id, provider_id, as_utc(row.claimed_at), bundled=passengers)
    else:
        _set(conn, [row.id], status="pending", last_error="re-sent after a crash")
        requeue(conn, passengers)


def rows_by_id(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    """The current page rows `ids`, by id."""
    return {row.id: row for row in conn.execute(_PAGES, {"ids": list(ids)})}


def stuck_sending(conn: Connection, older_than: datetime) -> list[Any]:
    """Rows claimed before `older_than` and still `sending`: their process died mid-send."""
    query = select(_pages).where(_pages.c.status == "sending", _pages.c.claimed_at < older_than)
    return list(conn.execute(query).all())


def provider_ids(conn: Connection, address: str) -> set[str]:
    """Provider ids already recorded for pages to `address` (so a lookup never reuses one)."""
    found = conn.execute(
        select(_pages.c.provider_id).where(
            _pages.c.address == address, _pages.c.provider_id.is_not(None)
        )
    ).scalars()
    return set(found)


def same_step(conn: Connection, page: Any) -> list[Any]:
    """Channel and status of the pages to `page`'s engineer for its step (its own included)."""
    query = select(_pages.c.channel, _pages.c.status).where(
        _pages.c.incident_id == page.incident_id,
        _pages.c.cycle == page.cycle,
        _pages.c.step == page.step,
        _pages.c.round == page.round,
        _pages.c.engineer == page.engineer,
        _pages.c.kind == page.kind,
    )
    return list(conn.execute(query).all())


def by_provider_id(conn: Connection, provider_id: str) -> Any:
    """The page a provider knows as `provider_id` (a Twilio SID), or None."""
    return conn.execute(select(_pages).where(_pages.c.provider_id == provider_id)).first()


def of_incident(conn: Connection, page_id: int, incident_id: int) -> Any:
    """Page `page_id` if it is one of incident `incident_id`'s, else None."""
    query = select(_pages).where(_pages.c.id == page_id, _pages.c.incident_id == incident_id)
    return conn.execute(query).first()


def _row(request: PageRequest, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": request.incident_id,
        "engineer": request.engineer,
        "channel": request.channel,
        "address": request.address,
        "kind": request.kind.value,
        "cycle": request.cycle,
        "step": request.step,
        "round": request.round,
        "text": request.text,
        "payload": request.payload.to_json(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "fallback_of": request.fallback_of,
    }


def _set(conn: Connection, ids: Sequence[int], **values: Any) -> None:
    """Set `values` on the page rows `ids` (none: nothing to do)."""
    if ids:
        conn.execute(update(_pages).where(_pages.c.id.in_(ids)).values(**values))


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
