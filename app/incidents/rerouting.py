"""Route an open incident again: when its wait for working hours is over, when its severity
rose before anyone was paged, and when the upstream incident that suppressed it resolved.

One `route_again` serves all three: the decision taken at opening may be hours old, so the
incident is routed afresh from its oldest firing alert (or the alert that raised it), with the
run-time absences and, where asked, the acknowledged load.
"""

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from app.core.incident import EventKind
from app.incidents import holds, store
from app.incidents.holds import HoldContext, open_upstream
from app.incidents.model import Event, Incident, first_action_at, held_until
from app.incidents.notify import Effects
from app.routing.decision import Decision, route
from app.store import alert_queries, engineer_states
from app.store.alert_rows import AlertRow


def route_again(
    effects: Effects, incident: Incident, *, alert: AlertRow | None = None, with_load: bool = False
) -> Decision | None:
    """A fresh decision for the incident, from `alert` or its oldest firing alert (None when
    nothing fires any more)."""
    if alert is None:
        row = alert_queries.first_firing_alert(effects.conn, incident.id)
        if row is None:
            return None
        alert = routable(row)
    away = engineer_states.away_overrides(effects.conn, effects.now)
    load = store.acked_load(effects.conn) if with_load else None
    return route(effects.rules, alert, effects.now, load=load, away=away)


def rerouted(incident: Incident, decision: Decision) -> Incident:
    """The incident with a new decision."""
    return incident.with_changes(decision_json=decision.to_json())


def release_dependents(effects: Effects, resolved: Collection[int]) -> set[int]:
    """Release the incidents `resolved` incidents suppressed; ids of those due to page now.

    A released incident still open is routed again and pages as if new, unless another
    upstream system is still down (it then waits for that one) or a maintenance window holds it.
    Those that resolved meanwhile stay quiet: only open ones are read.
    """
    due: set[int] = set()
    # Suppressed incidents wait with no next action, which the (state, next_action_at) index
    # finds; the upstream id is in their holds.
    for incident in store.waiting_without_action(effects.conn):
        if incident.flags.holds.suppressed_by not in resolved:
            continue
        if _release(effects, incident):
            due.add(incident.id)
    return due


def _release(effects: Effects, incident: Incident) -> bool:
    """Suppressed by the next upstream incident, or routed again; True when due now."""
    conn, now = effects.conn, effects.now
    flags = incident.flags
    upstream = open_upstream(conn, effects.rules, incident.system)
    if upstream is not None:
        moved = incident.with_changes(
            flags=replace(flags, holds=replace(flags.holds, suppressed_by=upstream.id))
        )
        note = f"upstream {upstream.system} has open incident #{upstream.id}"
        _write(effects, incident, moved, [Event(EventKind.SUPPRESSED, note=note)])
        return False
    decision = route_again(effects, incident, with_load=True)
    if decision is None:
        return False
    upstream_id = flags.holds.suppressed_by
    freed = incident.with_changes(
        decision_json=decision.to_json(),
        flags=replace(flags, holds=replace(flags.holds, suppressed=False, suppressed_by=None)),
    )
    context = HoldContext(conn, effects.rules, now)
    held, hold_events = holds.check(freed, context, opening=True, stages=(holds.Maintenance(),))
    next_at = held_until(held.flags.holds, first_action_at(decision, now))
    released = held.with_changes(next_action_at=next_at)
    note = f"upstream incident #{upstream_id} resolved: {decision.action}"
    _write(effects, incident, released, [Event(EventKind.RELEASED, note=note), *hold_events])
    return next_at == now


def _write(effects: Effects, before: Incident, after: Incident, events: list[Event]) -> None:
    store.save(effects.conn, before, after)
    store.record(effects.conn, after.id, effects.now, events)


def routable(alert: Any) -> AlertRow:
    """An alert row as read from the table, in the shape routing takes."""
    return AlertRow(
        id=alert.id,
        source=alert.source,
        dedup_key=alert.dedup_key,
        status=alert.status,
        severity=alert.severity,
        severity_note=alert.severity_note,
        summary=alert.summary,
        labels=alert.labels,
        started_at=alert.started_at,
        ended_at=alert.ended_at,
        first_seen_at=alert.first_seen_at,
        last_seen_at=alert.last_seen_at,
        count=alert.count,
        source_url=alert.source_url,
        runbook_url=alert.runbook_url,
    )
