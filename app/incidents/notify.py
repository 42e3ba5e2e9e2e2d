"""From a change to messages: the pages it orders, the resolved note, and restated messages.

Page orders become outbox rows (one per engineer and channel, with the text each channel
sends); whoever was paged for a resolved incident hears it is over; after every action, each
message that shows the incident (a Slack page) is brought up to date through the outbox, so it
says "Acknowledged by bo via SMS" without an Ack button, or "Resolved", never a live alert.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy.engine import Connection

from app.core.incident import EventKind
from app.incidents.model import Event, Incident
from app.incidents.transitions import PageOrder
from app.paging import outbox
from app.paging.base import PageKind
from app.paging.requests import IncidentView, PageRequest, page_requests
from app.paging.text import missed_text
from app.routing.rules import Rules
from app.store import alert_queries, engineer_states

_VERBS = {
    EventKind.ACKNOWLEDGED: "Acknowledged",
    EventKind.RESOLVED: "Resolved",
    EventKind.ESCALATED: "Escalated",
    EventKind.SNOOZED: "Snoozed",
    EventKind.HANDOVER: "Handed over",
    EventKind.RETRIGGERED: "Paging again",
}
# How a status line names the ways in.
_WAYS = {
    "sms": "SMS",
    "slack": "Slack",
    "voice": "phone",
    "api": "the API",
    "web": "the dashboard",
    "source": "its monitor",  # all of its alerts resolved
}


@dataclass
class Effects:
    """What carrying out changes needs beyond the transaction: rules, time, links."""

    conn: Connection
    rules: Rules
    now: datetime
    public_url: str

    @cached_property
    def unhealthy(self) -> dict[str, set[str]]:
        """Engineer → channels that cannot receive, read once when first needed."""
        return engineer_states.unhealthy_channels(self.conn)


def view_of(conn: Connection, incident: Incident) -> IncidentView:
    """What pages say about an incident (the runbook comes from its first alert's)."""
    return IncidentView(
        id=incident.id,
        severity=incident.severity,
        customer=incident.customer,
        system=incident.system,
        summary=incident.summary,
        decision=incident.decision,
        runbook_url=alert_queries.runbook_of(conn, incident.id),
        resolved_by=incident.resolved_by,
    )


def enqueue_order(effects: Effects, incident: Incident, order: PageOrder) -> int:
    """Write the pages of one order; how many were new."""
    view = view_of(effects.conn, incident)
    if order.storm_note is not None:
        view = replace(view, summary=f"{order.storm_note}. {view.summary}")
    requests = page_requests(
        effects.rules,
        view,
        order.engineers,
        kind=order.kind,
        position=order.position,
        public_url=effects.public_url,
        unhealthy=effects.unhealthy,
    )
    if order.why is not None:
        requests = [request.amended(why=order.why) for request in requests]
    return len(outbox.enqueue(effects.conn, requests, now=effects.now))


def tell_resolved(effects: Effects, incident: Incident, *, held: set[str]) -> int:
    """Queue a resolved note for every engineer who was paged but the one who resolved it,
    except on a channel whose message is restated instead (Slack); returns how many rows.

    An engineer whose SMS page the throttle still `held` never read it: their note is one line
    for their next bundle ("#7 fired 03:12 and resolved 03:13"), or nothing when the incident
    was open less than the policy's `min_page_age`."""
    paged = outbox.engineers_paged(effects.conn, incident.id) - {incident.resolved_by}
    held = held - {incident.resolved_by}
    missed = held if _told_when_missed(effects, incident) else set()
    if not paged and not missed:
        return 0
    shown = {(u.engineer, u.channel) for u in outbox.messages_of(effects.conn, incident.id)}
    requests = page_requests(
        effects.rules,
        view_of(effects.conn, incident),
        sorted(paged | missed),
        kind=PageKind.RESOLVED_NOTE,
        position=(incident.cycle, 0, 0),
        public_url=effects.public_url,
        unhealthy=effects.unhealthy,
    )
    notes = []
    for request in requests:
        if (request.engineer, request.channel) in shown:
            continue  # restated instead
        if request.channel == "sms" and request.engineer in held:
            if request.engineer in missed:
                notes.append(_missed_note(request, incident))
        elif request.engineer in paged:
            notes.append(request)
    return len(outbox.enqueue(effects.conn, notes, now=effects.now))


def _told_when_missed(effects: Effects, incident: Incident) -> bool:
    system = incident.system if incident.system in effects.rules.systems else None
    min_age = effects.rules.policy_for(system).min_page_age
    resolved_at = incident.resolved_at or effects.now
    return resolved_at - incident.opened_at >= min_age


def _missed_note(request: PageRequest, incident: Incident) -> PageRequest:
    """The resolved note of a page its engineer never got: one line, joining the next bundle."""
    resolved_at = incident.resolved_at or incident.opened_at
    line = f"fired {incident.opened_at:%H:%M} and resolved {resolved_at:%H:%M}"
    text = missed_text(
        incident_id=incident.id,
        customer=incident.customer,
        system=incident.system,
        line=line,
        link=request.payload.incident_url,
    )
    return replace(request.amended(summary=line, missed=True), text=text)


def status_line(rules: Rules, events: tuple[Event, ...], now: datetime) -> str:
    """What a restated message says: `Acknowledged by Bo Lind via SMS at 10:42 UTC`."""
    event = next(e for e in reversed(events) if e.kind in _VERBS)
    verb = _VERBS[EventKind(event.kind)]
    way = _WAYS.get(event.channel or "", event.channel)
    if event.actor is None:  # a monitor acted (or the ladder moved on by itself)
        by = f" by {way}" if way else ""
    else:
        engineer = rules.engineers.get(event.actor)
        name = engineer.name if engineer is not None and engineer.name else event.actor
        by = f" by {name}" + (f" via {way}" if way else "")
    return f"{verb}{by} at {now.astimezone(UTC):%H:%M} UTC"


def restate(effects: Effects, incident: Incident, events: tuple[Event, ...]) -> int:
    """Bring every message that shows the incident up to date; how many updates queued."""
    status = status_line(effects.rules, events, effects.now)
    updates = [
        replace(update.amended(state=incident.state.value, status=status), text=status)
        for update in outbox.messages_of(effects.conn, incident.id)
    ]
    return outbox.enqueue_updates(effects.conn, updates, cycle=incident.cycle, now=effects.now)
