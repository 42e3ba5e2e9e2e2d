"""Release suppressed incidents once the upstream incident that kept them quiet resolves.

A suppressed incident still open is routed again (the decision at opening may be hours old) and
pages as if new, unless another upstream system is still down (it then waits for that one) or a
maintenance window holds it. Those that resolved meanwhile stay quiet: only open ones are read.
"""

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.escalation.dependencies import open_upstream
from app.escalation.opening import acked_load, first_action_at, held_until, opening_holds
from app.escalation.tick import away_overrides, routable
from app.escalation.timeline import record_event
from app.routing.decision import route
from app.routing.rules import Rules
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]
_alerts = Base.metadata.tables["alerts"]


def release_dependents(
    conn: Connection, resolved: Collection[int], *, rules: Rules, now: datetime
) -> set[int]:
    """Release the incidents `resolved` incidents suppressed; ids of those due to page now."""
    # Suppressed incidents wait with no next action, which the (state, next_action_at) index
    # finds; the upstream id is in their flags.
    waiting = conn.execute(
        select(_incidents)
        .where(_incidents.c.state == "triggered", _incidents.c.next_action_at.is_(None))
        .order_by(_incidents.c.id)
        .with_for_update()
    ).all()
    due: set[int] = set()
    for incident in waiting:
        flags = dict(incident.flags or {})
        if flags.get("suppressed_by") not in resolved:
            continue
        upstream = open_upstream(conn, rules, incident.system)
        if upstream is not None:
            flags["suppressed_by"] = upstream.id
            _save(conn, incident.id, flags=flags)
            note = f"upstream {upstream.system} has open incident #{upstream.id}"
            record_event(conn, incident.id, now, kind="suppressed", note=note)
        elif _page_again(conn, incident, flags, rules=rules, now=now):
            due.add(incident.id)
    return due


def _page_again(
    conn: Connection, incident: Any, flags: dict[str, Any], *, rules: Rules, now: datetime
) -> bool:
    """Route a released incident again and let the tick page it; True when due now."""
    alert = conn.execute(
        select(_alerts)
        .where(_alerts.c.incident_id == incident.id, _alerts.c.status == "firing")
        .order_by(_alerts.c.id)
        .limit(1)
    ).first()
    if alert is None:
        return False
    upstream_id = flags.pop("suppressed_by")
    flags.pop("suppressed", None)
    decision = route(
        rules, routable(alert), now, load=acked_load(conn), away=away_overrides(conn, now)
    )
    holds, events = opening_holds(
        conn, rules, system=decision.system, customer=decision.customer, now=now, upstream=False
    )
    flags |= holds
    next_at = held_until(flags, first_action_at(decision, now))
    _save(conn, incident.id, flags=flags, decision=decision.to_json(), next_action_at=next_at)
    note = f"upstream incident #{upstream_id} resolved: {decision.action}"
    record_event(conn, incident.id, now, kind="released", note=note)
    for kind, text in events:
        record_event(conn, incident.id, now, kind=kind, note=text)
    return next_at == now


def _save(conn: Connection, incident_id: int, **values: Any) -> None:
    conn.execute(update(_incidents).where(_incidents.c.id == incident_id).values(**values))
