"""What people do to incidents: acknowledge, resolve, escalate, snooze, hand over.

Every way in (SMS reply, voice digit, Slack button, API, dashboard) calls these functions, so
they behave the same everywhere. Each runs inside its caller's transaction, is idempotent (a
repeated action reports the current state and adds no event) and refuses what the state does
not allow with a reason a person can read.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.errors import NotFound
from app.escalation.release import release_dependents
from app.escalation.resolution import notify_resolved
from app.escalation.tick import unhealthy_channels, view_of
from app.escalation.timeline import record_event
from app.paging.base import PageKind
from app.paging.outbox import cancel_pending_pages, enqueue
from app.paging.requests import page_requests
from app.routing.rules import Rules
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]
_alerts = Base.metadata.tables["alerts"]
_OPEN = ("triggered", "acknowledged", "snoozed")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and through which channel (sms, voice, slack, api, web)."""

    engineer: str
    channel: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did: `changed` false means nothing needed doing (or it was refused)."""

    incident_id: int
    state: str
    changed: bool
    refused: str | None = None
    paged: int = 0


def load_incident(conn: Connection, incident_id: int) -> Any:
    """The incident row, locked for this transaction where the database can."""
    found = conn.execute(
        select(_incidents).where(_incidents.c.id == incident_id).with_for_update()
    ).first()
    if found is None:
        raise NotFound(f"no incident {incident_id}")
    return found


def acknowledge(
    conn: Connection,
    incident_id: int,
    *,
    actor: Actor,
    rules: Rules,
    now: datetime,
    note: str | None = None,
) -> Outcome:
    """Stop paging; the owner is reminded after `ack_reminder`."""
    incident = load_incident(conn, incident_id)
    if incident.state == "resolved":
        return refused_resolved(incident)
    reminder = rules.policy_for(_system(rules, incident)).ack_reminder
    flags = dict(incident.flags or {})
    if incident.state == "acknowledged":
        if not flags.pop("reminded_at", None):
            return Outcome(incident.id, incident.state, changed=False)
        update_incident(conn, incident.id, flags=flags, next_action_at=now + reminder)
        _log(conn, incident.id, now, "reminder_confirmed", actor, note)
        return Outcome(incident.id, "acknowledged", changed=True)
    update_incident(
        conn,
        incident.id,
        state="acknowledged",
        acknowledged_at=now,
        acknowledged_by=actor.engineer,
        next_action_at=now + reminder,
        flags=flags,
    )
    cancel_pending_pages(conn, incident.id)
    _log(conn, incident.id, now, "acknowledged", actor, note)
    return Outcome(incident.id, "acknowledged", changed=True)


def resolve(
    conn: Connection,
    incident_id: int,
    *,
    actor: Actor,
    rules: Rules,
    now: datetime,
    public_url: str,
    note: str | None = None,
) -> Outcome:
    """Resolve by hand; whoever was paged gets a short resolved note."""
    incident = load_incident(conn, incident_id)
    if incident.state == "resolved":
        return Outcome(incident.id, incident.state, changed=False)
    update_incident(
        conn,
        incident.id,
        state="resolved",
        resolved_at=now,
        resolved_by=actor.engineer,
        next_action_at=None,
    )
    cancel_pending_pages(conn, incident.id)
    _log(conn, incident.id, now, "resolved", actor, note)
    paged = notify_resolved(conn, incident.id, rules=rules, now=now, public_url=public_url)
    release_dependents(conn, {incident.id}, rules=rules, now=now)  # the tick pages them
    return Outcome(incident.id, "resolved", changed=True, paged=paged)


def escalate(
    conn: Connection,
    incident_id: int,
    *,
    actor: Actor,
    now: datetime,
    note: str | None = None,
) -> Outcome:
    """Page the next step now (an acknowledged incident goes back to triggered first)."""
    incident = load_incident(conn, incident_id)
    if incident.state == "resolved":
        return refused_resolved(incident)
    values: dict[str, Any] = {"state": "triggered", "next_action_at": now}
    if incident.state != "triggered":
        values |= {"cycle": incident.cycle + 1, "acknowledged_at": None, "acknowledged_by": None}
    update_incident(conn, incident.id, **values)
    _log(conn, incident.id, now, "escalated", actor, note)
    return Outcome(incident.id, "triggered", changed=True)


def snooze(
    conn: Connection,
    incident_id: int,
    *,
    actor: Actor,
    minutes: int,
    now: datetime,
    note: str | None = None,
) -> Outcome:
    """Quiet for `minutes`, then triggered again in a new cycle."""
    incident = load_incident(conn, incident_id)
    if incident.state == "resolved":
        return refused_resolved(incident)
    update_incident(
        conn, incident.id, state="snoozed", next_action_at=now + timedelta(minutes=minutes)
    )
    cancel_pending_pages(conn, incident.id)
    _log(conn, incident.id, now, "snoozed", actor, note or f"for {minutes} min")
    return Outcome(incident.id, "snoozed", changed=True)


def hand_over(
    conn: Connection,
    incident_id: int,
    *,
    actor: Actor,
    to: str,
    rules: Rules,
    now: datetime,
    public_url: str,
    note: str | None = None,
) -> Outcome:
    """Page `to` now ("from anna"); if they do not act, the ladder starts again after them."""
    incident = load_incident(conn, incident_id)
    if incident.state == "resolved":
        return refused_resolved(incident)
    if to not in rules.engineers:
        return refused(incident, f"unknown engineer {to!r}")
    cycle = incident.cycle + 1
    timeout = int(incident.decision.get("ack_timeout_s", 300))
    update_incident(
        conn,
        incident.id,
        state="triggered",
        cycle=cycle,
        step_index=0,
        round=0,
        acknowledged_at=None,
        acknowledged_by=None,
        next_action_at=now + timedelta(seconds=timeout),
    )
    cancel_pending_pages(conn, incident.id)
    rows = page_requests(
        rules,
        view_of(conn, load_incident(conn, incident.id)),
        [to],
        kind=PageKind.PAGE,
        position=(cycle, -1, 0),
        public_url=public_url,
        unhealthy=unhealthy_channels(conn),
    )
    rows = [row.amended(why=f"handed over from {actor.engineer}") for row in rows]
    paged = len(enqueue(conn, rows, now=now))
    _log(conn, incident.id, now, "handover", actor, note or f"from {actor.engineer} to {to}")
    return Outcome(incident.id, "triggered", changed=True, paged=paged)


def _system(rules: Rules, incident: Any) -> str | None:
    return incident.system if incident.system in rules.systems else None


def _log(
    conn: Connection, incident_id: int, now: datetime, kind: str, actor: Actor, note: str | None
) -> None:
    record_event(
        conn, incident_id, now, kind=kind, actor=actor.engineer, channel=actor.channel, note=note
    )


def refused_resolved(incident: Any) -> Outcome:
    """The refusal of any action on a resolved incident."""
    return refused(
        incident, f"#{incident.id} was resolved by {incident.resolved_by or 'its monitor'}"
    )


def refused(incident: Any, why: str) -> Outcome:
    """An outcome that did nothing, saying why."""
    return Outcome(incident.id, incident.state, changed=False, refused=why)


def update_incident(conn: Connection, incident_id: int, **values: Any) -> None:
    """Set columns of one incident."""
    conn.execute(update(_incidents).where(_incidents.c.id == incident_id).values(**values))


ACTIONS = ("ack", "resolve", "escalate", "snooze", "handover")


def perform(
    conn: Connection,
    action: str,
    incident_id: int,
    *,
    actor: Actor,
    rules: Rules,
    now: datetime,
    public_url: str,
    note: str | None = None,
    minutes: int = 30,
    to: str = "",
) -> Outcome:
    """Carry out one of ACTIONS by name (the API and the dashboard buttons call this)."""
    if action == "ack":
        return acknowledge(conn, incident_id, actor=actor, rules=rules, now=now, note=note)
    if action == "resolve":
        return resolve(
            conn, incident_id, actor=actor, rules=rules, now=now, public_url=public_url, note=note
        )
    if action == "escalate":
        return escalate(conn, incident_id, actor=actor, now=now, note=note)
    if action == "snooze":
        return snooze(conn, incident_id, actor=actor, minutes=minutes, now=now, note=note)
    if action == "handover":
        return hand_over(
            conn,
            incident_id,
            actor=actor,
            to=to,
            rules=rules,
            now=now,
            public_url=public_url,
            note=note,
        )
    raise ValueError(f"unknown action {action!r}")
