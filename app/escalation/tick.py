"""The idempotent escalation tick: advance every incident whose next action is due.

State lives only in the database. Each call claims due incidents (PostgreSQL: FOR UPDATE SKIP
LOCKED, so replicas split the work and never run one step twice), checks their holds, takes the
state change that is due (a snooze ending, a reminder, the ladder's next step, a wait for working
hours ending) and writes it with its pages — all in one transaction.
"""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.engine import Connection

from app.core.incident import EventKind, IncidentState
from app.incidents import holds, store, transitions
from app.incidents.apply import apply
from app.incidents.holds import HoldContext
from app.incidents.model import Event, Incident
from app.incidents.notify import Effects
from app.incidents.rerouting import route_again
from app.incidents.silences import ActiveSilence, active_silences
from app.incidents.transitions import Change
from app.routing.decision import Action
from app.routing.rules import Rules


def run_tick(
    conn: Connection,
    *,
    rules: Rules,
    now: datetime,
    public_url: str,
    incidents: Collection[int] | None = None,
) -> int:
    """Advance due incidents (only those of `incidents`, if given); returns pages written."""
    due = store.claim_due(conn, now, incidents)
    if not due:
        return 0
    effects = Effects(conn, rules, now, public_url)
    silences = active_silences(conn, now)
    return sum(_advance(effects, incident, silences) for incident in due)


def _advance(effects: Effects, incident: Incident, silences: list[ActiveSilence]) -> int:
    now = effects.now
    if incident.state is IncidentState.ACKNOWLEDGED:
        note = transitions.storm_note(incident)
        return apply(effects, incident, transitions.remind(incident, now, storm_note=note)).pages
    change = transitions.unchanged(incident)
    if incident.state is IncidentState.SNOOZED:
        change = transitions.retrigger(incident, now, "snooze ended")
    context = HoldContext(effects.conn, effects.rules, now, silences)
    checked, events = holds.check(change.incident, context, opening=False)
    change = change.then(Change(checked, events))
    ends = checked.flags.holds.ends()
    if ends:
        held = change.then(Change(checked.with_changes(next_action_at=max(ends))))
        return apply(effects, incident, held).pages
    if checked.action is Action.WAIT:
        change = _wait_over(effects, change)
        if change.incident.action is not Action.PAGE:
            return apply(effects, incident, change).pages
    step = transitions.page_step(
        change.incident, now, storm_note=transitions.storm_note(change.incident)
    )
    return apply(effects, incident, change.then(step)).pages


def _wait_over(effects: Effects, change: Change) -> Change:
    """A waiting incident's time has come: route it again (it pages if that says so)."""
    incident = change.incident
    decision = route_again(effects, incident)
    if decision is None:
        return change
    next_at = effects.now if decision.action is Action.PAGE else decision.page_at
    rerouted = incident.with_changes(decision_json=decision.to_json(), next_action_at=next_at)
    event = Event(EventKind.REROUTED, note=f"wait over: {decision.action}")
    return change.then(Change(rerouted, (event,)))
