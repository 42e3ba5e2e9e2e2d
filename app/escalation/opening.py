"""Open a new incident, or reopen a key's recent one, with the holds that keep it quiet.

A new incident is routed and pages at once unless something says wait: an upstream system's open
incident (suppressed, pages no one until that resolves), a maintenance window (held until it
ends) or, on a reopen, a flapping alert (held until it is stable for `flap.window`).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.escalation.dependencies import open_upstream
from app.escalation.flapping import state_changes
from app.escalation.maintenance_hold import maintenance_end
from app.escalation.timeline import record_event
from app.routing.decision import Action, Decision
from app.routing.rules import Rules
from app.store.alert_rows import AlertRow
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]
_alerts = Base.metadata.tables["alerts"]
# Flags holding an incident until the time they name (ISO 8601).
_HOLD_ENDS = ("maintenance", "flapping_until")


@dataclass(slots=True)
class OpenIncident:
    """The part of an open incident a batch can change."""

    id: int
    severity: str
    alert_count: int
    decision: dict[str, Any]
    flags: dict[str, Any] = field(default_factory=dict)
    due: bool = False  # its next action was due when the batch read it
    changed: bool = False
    raised_by: AlertRow | None = None  # the row that raised the severity in this batch


def incident_of(row: Any, now: datetime) -> OpenIncident:
    """An incident as read from the table (any row with the fields used here)."""
    next_at = row.next_action_at
    return OpenIncident(
        row.id,
        row.severity,
        row.alert_count,
        row.decision,
        dict(row.flags or {}),
        due=row.state != "resolved" and next_at is not None and as_utc(next_at) <= now,
    )


def first_action_at(decision: Decision, now: datetime) -> datetime | None:
    """When the tick should first act: now to page, at `page_at` to wait, never for dashboard."""
    if decision.action is Action.PAGE:
        return now
    if decision.action is Action.WAIT:
        return decision.page_at
    return None


def held_until(flags: dict[str, Any], proposed: datetime | None) -> datetime | None:
    """When an incident with `flags` may act, given it would act at `proposed` (None: never)."""
    if proposed is None or flags.get("suppressed"):
        return None
    ends = [as_utc(datetime.fromisoformat(flags[key])) for key in _HOLD_ENDS if flags.get(key)]
    return max([proposed, *ends])


def acked_load(conn: Connection) -> dict[str, int]:
    """Engineer → open incidents they have acknowledged (ranking's tie-break)."""
    result = conn.execute(
        select(_incidents.c.acknowledged_by, func.count())
        .where(_incidents.c.state == "acknowledged", _incidents.c.acknowledged_by.is_not(None))
        .group_by(_incidents.c.acknowledged_by)
    )
    return dict(result.all())


def opening_holds(
    conn: Connection,
    rules: Rules,
    *,
    system: str | None,
    customer: str | None,
    now: datetime,
    upstream: bool = True,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Flags holding an incident that opens now, and timeline (kind, note) pairs saying why."""
    flags: dict[str, Any] = {}
    events: list[tuple[str, str]] = []
    found = open_upstream(conn, rules, system) if upstream else None
    if found is not None:
        flags |= {"suppressed": True, "suppressed_by": found.id}
        events.append(("suppressed", f"upstream {found.system} has open incident #{found.id}"))
    end = maintenance_end(rules, system, customer, now)
    if end is not None:
        flags["maintenance"] = end.isoformat()
        events.append(("maintenance", f"in a maintenance window until {end.isoformat()}"))
    return flags, events


def open_incident(
    conn: Connection, row: AlertRow, decision: Decision, rules: Rules, now: datetime
) -> OpenIncident:
    """Insert the incident `row` opens, routed by `decision` and held as the rules say."""
    flags, events = opening_holds(
        conn, rules, system=decision.system, customer=decision.customer, now=now
    )
    decision_json = decision.to_json()
    values = {
        "group_key": decision.group,
        "state": "triggered",
        "system": decision.system,
        "customer": decision.customer,
        "severity": row.severity,
        "summary": row.summary,
        "unrouted": decision.unrouted,
        "alert_count": 1,
        "opened_at": now,
        "next_action_at": held_until(flags, first_action_at(decision, now)),
        "decision": decision_json,
        "rules_version": rules.version,
        "cycle": 1,
        "step_index": 0,
        "round": 0,
        "flags": flags,
    }
    incident_id = conn.execute(insert(_incidents).returning(_incidents.c.id), values).scalar_one()
    record_event(
        conn, incident_id, now, kind="opened", channel=row.source, note=_opened_note(decision)
    )
    for kind, note in events:
        record_event(conn, incident_id, now, kind=kind, note=note)
    return OpenIncident(incident_id, row.severity, 1, decision_json, flags)


def _opened_note(decision: Decision) -> str:
    where = decision.system or "unrouted"
    if decision.action is Action.PAGE:
        first = ", ".join(decision.steps[0].engineers) if decision.steps else "nobody"
        return f"{where}: paging {first}"
    if decision.action is Action.WAIT and decision.page_at is not None:
        return f"{where}: waiting for working hours until {decision.page_at.isoformat()}"
    return f"{where}: {decision.severity} is dashboard only"


def reopen_incident(
    conn: Connection, row: AlertRow, rules: Rules, now: datetime
) -> OpenIncident | None:
    """Reopen the incident this key's previous cycle belonged to, if it resolved within the
    flap window (§3): a flapping alert returns to its incident instead of opening another, and
    pages again only once it is stable."""
    previous = _previous_incident(conn, row)
    if previous is None or previous.resolved_at is None:
        return None
    system = previous.system if previous.system in rules.systems else None
    flap = rules.policy_for(system).flap
    if now - as_utc(previous.resolved_at) > flap.window:
        return None
    flags, events = opening_holds(conn, rules, system=system, customer=previous.customer, now=now)
    flags = {**_kept_flags(previous.flags), **flags}
    changes = state_changes(conn, row.source, row.dedup_key, since=now - flap.window) + 1
    if changes > flap.changes:
        flags |= {
            "flapping": True,
            "flapping_keys": [row.dedup_key],
            "flapping_until": (now + flap.window).isoformat(),
        }
        events.append(("flapping", f"{changes} state changes in {flap.window}: quiet until stable"))
    conn.execute(
        update(_incidents)
        .where(_incidents.c.id == previous.id)
        .values(
            state="triggered",
            resolved_at=None,
            resolved_by=None,
            acknowledged_at=None,
            acknowledged_by=None,
            cycle=previous.cycle + 1,
            step_index=0,
            round=0,
            next_action_at=held_until(flags, now),
            severity=row.severity,
            alert_count=previous.alert_count + 1,
            flags=flags,
        )
    )
    note = f"{row.dedup_key} fired again within the flap window"
    record_event(conn, previous.id, now, kind="reopened", channel=row.source, note=note)
    for kind, text in events:
        record_event(conn, previous.id, now, kind=kind, note=text)
    return OpenIncident(
        previous.id, row.severity, previous.alert_count + 1, previous.decision, flags
    )


def _previous_incident(conn: Connection, row: AlertRow) -> Any:
    return conn.execute(
        select(_incidents)
        .join(_alerts, _alerts.c.incident_id == _incidents.c.id)
        .where(
            _alerts.c.source == row.source,
            _alerts.c.dedup_key == row.dedup_key,
            _incidents.c.state == "resolved",
        )
        .order_by(_alerts.c.id.desc())
        .limit(1)
    ).first()


def _kept_flags(flags: dict[str, Any] | None) -> dict[str, Any]:
    """What a reopened incident keeps: its counters and storm state, not the last cycle's holds
    or ladder marks."""
    dropped = {"suppressed", "suppressed_by", "maintenance", "silenced_until", "exhausted"}
    dropped |= {"reminded_at", "flapping", "flapping_keys", "flapping_until"}
    return {key: value for key, value in (flags or {}).items() if key not in dropped}
