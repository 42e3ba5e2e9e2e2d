"""The one action seam: what people (and monitors) do to incidents, whichever way they come in.

SMS replies, voice digits, Slack buttons, the API, the dashboard and inbound PagerDuty
`acknowledge`/`resolve` events all build an `IncidentAction` and call `perform`. It runs inside
the caller's transaction, is idempotent (a repeated action reports the current state and adds
no event), refuses what the state does not allow with a reason a person can read, and brings
every message that shows the incident up to date.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.engine import Connection

from app.core.incident import ActionKind, EventKind, IncidentState
from app.errors import NotFound
from app.incidents import store, transitions
from app.incidents.apply import apply
from app.incidents.model import Event, Incident
from app.incidents.notify import Effects
from app.incidents.silences import Matcher, create_silence
from app.incidents.transitions import Change, Refused, Who
from app.routing.rules import Rules
from app.store import alert_queries

MAX_NOTE = 4000


class Visibility(StrEnum):
    """Who reads a note: the team only, or the incident's customer too."""

    INTERNAL = "internal"
    SHARED = "shared"


@dataclass(frozen=True, slots=True)
class IncidentAction:
    """One action on one incident, with what it needs: a note, minutes to snooze, who to hand
    over to, how long to mute."""

    kind: ActionKind
    incident_id: int
    note: str | None = None
    minutes: int = 30
    to: str = ""
    span: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did: `changed` false means nothing needed doing (or it was refused)."""

    incident_id: int
    state: IncidentState
    changed: bool
    refused: str | None = None
    paged: int = 0
    released: frozenset[int] = frozenset()  # dependents due to page now


@dataclass(frozen=True, slots=True)
class ActionContext:
    """The rules, time and public URL an action is carried out with."""

    rules: Rules
    now: datetime
    public_url: str


def perform(conn: Connection, action: IncidentAction, who: Who, context: ActionContext) -> Outcome:
    """Carry out `action` as `who` (see the module's docstring)."""
    if action.kind is ActionKind.NOTE:
        raise ValueError("notes are added with add_note (they carry a visibility)")
    incident = store.load(conn, action.incident_id)
    effects = Effects(conn, context.rules, context.now, context.public_url)
    change = _change(conn, incident, action, who, context)
    if isinstance(change, Refused):
        return Outcome(incident.id, incident.state, changed=False, refused=change.why)
    if not change.events:
        return Outcome(incident.id, incident.state, changed=False)
    if action.kind is ActionKind.MUTE:
        _store_mute(conn, incident, action, who, context)
    applied = apply(effects, incident, change)
    return Outcome(
        incident.id,
        applied.incident.state,
        changed=True,
        paged=applied.pages,
        released=frozenset(applied.due),
    )


def _change(
    conn: Connection, incident: Incident, action: IncidentAction, who: Who, context: ActionContext
) -> Change | Refused:
    now, note = context.now, action.note
    match action.kind:
        case ActionKind.ACK:
            system = incident.system if incident.system in context.rules.systems else None
            reminder = context.rules.policy_for(system).ack_reminder
            return transitions.acknowledge(incident, who, now, reminder=reminder, note=note)
        case ActionKind.RESOLVE:
            return transitions.resolve(incident, who, now, note=note)
        case ActionKind.ESCALATE:
            return transitions.escalate(incident, who, now, note=note)
        case ActionKind.SNOOZE:
            return transitions.snooze(incident, who, now, minutes=action.minutes, note=note)
        case ActionKind.HANDOVER:
            known = action.to in context.rules.engineers
            return transitions.hand_over(incident, who, now, to=action.to, known=known, note=note)
        case _:  # ActionKind.MUTE
            return transitions.mute(incident, who, now, span=action.span or timedelta(hours=1))


def _store_mute(
    conn: Connection, incident: Incident, action: IncidentAction, who: Who, context: ActionContext
) -> None:
    """Mute as a silence of the incident's system (or, unrouted, its group labels)."""
    span = action.span or timedelta(hours=1)
    if incident.system:
        matchers = [Matcher(name="system", value=incident.system)]
    else:
        matchers = _group_matchers(
            alert_queries.first_alert_labels(conn, incident.id), context.rules.policy.group_by
        )
    create_silence(
        conn,
        matchers=matchers,
        starts_at=context.now,
        ends_at=context.now + span,
        created_by=who.name,
        comment=f"muted from #{incident.id} via {who.via}",
        now=context.now,
    )


def _group_matchers(labels: dict[str, str], group_by: tuple[str, ...]) -> list[Matcher]:
    """The group labels of an unrouted incident; one grouped by its own key (no group label)
    is muted by its first alert's labels and monitor, not as every unlabelled alert."""
    matchers = [Matcher(name=key, value=labels.get(key, "")) for key in group_by]
    if any(matcher.value for matcher in matchers):
        return matchers
    own = sorted((key, value) for key, value in labels.items() if key not in group_by)
    return matchers + [Matcher(name=key, value=value) for key, value in own]


def add_note(
    conn: Connection, incident_id: int, *, who: Who, text: str, visibility: str, now: datetime
) -> int:
    """Append a note (internal or shared) to an incident's timeline; returns the event id."""
    if not store.exists(conn, incident_id):
        raise NotFound(f"no incident {incident_id}")
    event = Event(EventKind.NOTE, note=text[:MAX_NOTE], actor=who.engineer, channel=who.via)
    return store.add_note(conn, incident_id, event, visibility=visibility, at=now)
