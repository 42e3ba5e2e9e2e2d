"""What a reader may see of an incident: the one projection behind the JSON API and the dashboard.

Engineers see everything. A customer sees their own incidents' state, times, severity, system,
summary, quiet flags (storm, suppressed, silenced, maintenance, flapping), alerts without
runbooks, and a timeline of state changes plus the notes shared with them. Never: internal
notes, pages, escalations or fallbacks, who acknowledged, resolved or was paged (engineer ids),
the routing decision, rules versions or raw payloads. The API's JSON, the incident page, Now,
history and history.csv all read incidents through `incident_for` / `list_view` and timelines
through `timeline_query` / `entries`, so the two surfaces cannot disagree.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from app.clock import as_utc
from app.core.incident import EventKind
from app.incidents.model import IncidentFlags
from app.store.tables import ChangeEvent, Incident, IncidentEvent, NoteVisibility
from app.store.tokens import Principal, TokenKind

# The timeline events a customer sees (without their notes); notes only when shared.
CUSTOMER_EVENT_KINDS = (
    EventKind.OPENED,
    EventKind.REOPENED,
    EventKind.ACKNOWLEDGED,
    EventKind.RESOLVED,
    EventKind.SNOOZED,
)
# Alert fields only the team sees (runbooks are internal documents).
TEAM_ALERT_FIELDS = ("runbook_url",)
# Change event fields only the team sees (which tool, and links into it).
TEAM_CHANGE_FIELDS = ("source", "links")


@dataclass(frozen=True, slots=True)
class IncidentView:
    """An incident as one reader may see it (a row, not an ORM object: lists are long)."""

    id: int
    state: str
    system: str | None
    customer: str | None
    severity: str
    summary: str
    unrouted: bool
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    next_action_at: datetime | None
    flags: IncidentFlags
    alert_count: int = 0
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    rules_version: str | None = None
    decision: dict[str, Any] | None = None


# The columns of a list row, in IncidentView's order (its first twelve fields).
LIST_COLUMNS = (
    Incident.id,
    Incident.state,
    Incident.system,
    Incident.customer,
    Incident.severity,
    Incident.summary,
    Incident.unrouted,
    Incident.opened_at,
    Incident.acknowledged_at,
    Incident.acknowledged_by,
    Incident.next_action_at,
    Incident.flags,
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One timeline line: what happened, who did it, through which channel."""

    at: datetime
    kind: str
    actor: str | None
    channel: str | None
    text: str | None
    visibility: str | None = None  # notes: "internal" or "shared"


def sees_everything(principal: Principal) -> bool:
    """True for an engineer; everyone else gets the customer projection."""
    return principal.kind == TokenKind.ENGINEER


def visible_incidents(principal: Principal) -> Select[Incident]:
    """Incidents `principal` may see: all for the team, their own customer's otherwise."""
    query = select(Incident)
    if not sees_everything(principal):
        query = query.where(Incident.customer == principal.subject)
    return query


def list_view(row: Any, principal: Principal) -> IncidentView:
    """A row of LIST_COLUMNS as `principal` may see it."""
    view = IncidentView(*row)  # LIST_COLUMNS end with the stored flags: typed here
    return for_reader(replace(view, flags=IncidentFlags.from_json(row.flags)), principal)


def incident_for(incident: Incident, principal: Principal) -> IncidentView:
    """A stored incident as `principal` may see it."""
    view = IncidentView(
        id=incident.id,
        state=incident.state,
        system=incident.system,
        customer=incident.customer,
        severity=incident.severity,
        summary=incident.summary,
        unrouted=incident.unrouted,
        opened_at=incident.opened_at,
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=incident.acknowledged_by,
        next_action_at=incident.next_action_at,
        flags=IncidentFlags.from_json(incident.flags),
        alert_count=incident.alert_count,
        resolved_at=incident.resolved_at,
        resolved_by=incident.resolved_by,
        rules_version=incident.rules_version,
        decision=incident.decision,
    )
    return for_reader(view, principal)


def for_reader(view: IncidentView, principal: Principal) -> IncidentView:
    """`view` unchanged for the team; without people, decision and ladder marks otherwise."""
    if sees_everything(principal):
        return view
    return replace(
        view,
        acknowledged_by=None,
        resolved_by=None,
        rules_version=None,
        decision=None,
        flags=view.flags.for_customer(),
    )


def timeline_query(incident_id: int, principal: Principal) -> Select[IncidentEvent, str]:
    """An incident's events with their note visibility, oldest first, as `principal` may see."""
    query = (
        select(IncidentEvent, NoteVisibility.visibility)
        .outerjoin(NoteVisibility, NoteVisibility.event_id == IncidentEvent.id)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.id)
    )
    if sees_everything(principal):
        return query
    return query.where(
        IncidentEvent.kind.in_(CUSTOMER_EVENT_KINDS)
        | ((IncidentEvent.kind == EventKind.NOTE) & (NoteVisibility.visibility == "shared"))
    )


def entries(rows: Iterable[Any], principal: Principal) -> list[Entry]:
    """The rows of `timeline_query` as timeline lines (customers: no actor, channel or note)."""
    found = (_entry(event, visibility, principal) for event, visibility in rows)
    return [entry for entry in found if entry is not None]


def _entry(event: IncidentEvent, visibility: str | None, principal: Principal) -> Entry | None:
    at = as_utc(event.at)
    if sees_everything(principal):
        shown = (visibility or "internal") if event.kind == EventKind.NOTE else None
        return Entry(at, event.kind, event.actor, event.channel, event.note, shown)
    if event.kind == EventKind.NOTE and visibility == "shared":
        return Entry(at, "note", None, None, event.note, "shared")
    if event.kind in CUSTOMER_EVENT_KINDS:
        return Entry(at, event.kind, None, None, None)
    return None  # the query filters these out already; this keeps a second guard


def alert_fields(body: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """An alert's API fields as `principal` may see them."""
    return _without(body, principal, TEAM_ALERT_FIELDS)


def change_fields(body: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A change event's API fields as `principal` may see them (a customer sees only those of
    its own incidents' systems, as it sees only its own incidents)."""
    return _without(body, principal, TEAM_CHANGE_FIELDS)


def change_entry(change: ChangeEvent, principal: Principal) -> Entry:
    """A change event as a timeline line: its summary, and for the team the tool it came from."""
    source = change.source if sees_everything(principal) else None
    return Entry(as_utc(change.at), "change", None, source, change.summary)


def _without(body: dict[str, Any], principal: Principal, team: tuple[str, ...]) -> dict[str, Any]:
    if sees_everything(principal):
        return body
    return {key: value for key, value in body.items() if key not in team}
