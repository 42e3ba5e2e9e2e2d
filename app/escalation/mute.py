"""Mute from a page (`42m 2h`): silence the incident's system, or its group's labels."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.escalation.service import (
    Actor,
    Outcome,
    load_incident,
    refused_resolved,
    update_incident,
)
from app.escalation.silences import Matcher, create_silence
from app.escalation.timeline import record_event
from app.paging.outbox import cancel_pending_pages
from app.routing.rules import Rules
from app.store.tables import Base

_alerts = Base.metadata.tables["alerts"]


def mute(
    conn: Connection,
    incident_id: int,
    *,
    actor: Actor,
    duration: timedelta | None,
    rules: Rules,
    now: datetime,
) -> Outcome:
    """Silence the incident's system (or, unrouted, its group labels) for `duration`."""
    incident = load_incident(conn, incident_id)
    if incident.state == "resolved":
        return refused_resolved(incident)
    span = duration or timedelta(hours=1)
    create_silence(
        conn,
        matchers=_mute_matchers(conn, incident, rules),
        starts_at=now,
        ends_at=now + span,
        created_by=actor.engineer,
        comment=f"muted from #{incident.id} via {actor.channel}",
        now=now,
    )
    cancel_pending_pages(conn, incident.id)
    if incident.state == "triggered":
        update_incident(
            conn, incident.id, next_action_at=now
        )  # the tick holds it until the silence ends
    record_event(
        conn,
        incident.id,
        now,
        kind="muted",
        actor=actor.engineer,
        channel=actor.channel,
        note=f"for {span}",
    )
    return Outcome(incident.id, incident.state, changed=True)


def _mute_matchers(conn: Connection, incident: Any, rules: Rules) -> list[Matcher]:
    if incident.system:
        return [Matcher(name="system", value=incident.system)]
    labels = (
        conn.execute(
            select(_alerts.c.labels)
            .where(_alerts.c.incident_id == incident.id)
            .order_by(_alerts.c.id)
            .limit(1)
        ).scalar()
        or {}
    )
    return [Matcher(name=key, value=labels.get(key, "")) for key in rules.policy.group_by]
