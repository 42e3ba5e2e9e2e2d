"""The idempotent escalation tick: advance every incident whose next action is due.

State lives only in the database. Each call claims due incidents (PostgreSQL: FOR UPDATE SKIP
LOCKED, so replicas split the work and never run one step twice), writes the step's pages to
the outbox and moves `next_action_at` on — all in one transaction.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.escalation.holds import HoldCheck, hold_if_quiet
from app.escalation.policy import Ladder, plan_step
from app.escalation.silences import ActiveSilence, active_silences
from app.escalation.storm import with_storm_note
from app.escalation.timeline import record_event
from app.paging.base import PageKind
from app.paging.outbox import enqueue
from app.paging.requests import IncidentView, page_requests
from app.routing.decision import Action, route
from app.routing.rules import Rules
from app.store.alert_rows import AlertRow
from app.store.tables import Base
from app.store.upsert import claim

_incidents = Base.metadata.tables["incidents"]
_alerts = Base.metadata.tables["alerts"]
_states = Base.metadata.tables["engineer_states"]
_BATCH = 200
_SUPPRESSION = ("suppressed", "suppressed_by")
# The statements of the paging path are built once and run with parameters: SQLAlchemy then
# skips building and hashing them on every call, which cost several times their execution.
_DUE = (
    select(_incidents)
    .where(
        _incidents.c.state.in_(("triggered", "snoozed", "acknowledged")),
        _incidents.c.next_action_at <= bindparam("now"),
    )
    .order_by(_incidents.c.next_action_at)
    .limit(_BATCH)
)
_DUE_AMONG = _DUE.where(_incidents.c.id.in_(bindparam("ids", expanding=True)))
_INCIDENT = select(_incidents).where(_incidents.c.id == bindparam("incident"))
_SET_INCIDENT = update(_incidents).where(_incidents.c.id == bindparam("incident"))
_STATES = select(_states)
_RUNBOOK = (
    select(_alerts.c.runbook_url)
    .where(_alerts.c.incident_id == bindparam("incident"), _alerts.c.runbook_url.is_not(None))
    .order_by(_alerts.c.id)
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class TickContext:
    """What one tick works with."""

    rules: Rules
    now: datetime
    public_url: str
    unhealthy: dict[str, set[str]]
    silences: list[ActiveSilence]


def run_tick(
    conn: Connection,
    *,
    rules: Rules,
    now: datetime,
    public_url: str,
    incidents: Collection[int] | None = None,
) -> int:
    """Advance due incidents (only those of `incidents`, if given); returns pages written."""
    if incidents is None:
        due = conn.execute(claim(_DUE, conn), {"now": now}).all()
    else:
        among = {"now": now, "ids": sorted(incidents)}
        due = conn.execute(claim(_DUE_AMONG, conn), among).all()
    if not due:
        return 0
    context = TickContext(
        rules, now, public_url, unhealthy_channels(conn), active_silences(conn, now)
    )
    return sum(_advance(conn, incident, context) for incident in due)


def unhealthy_channels(conn: Connection) -> dict[str, set[str]]:
    """Engineer → channels that cannot receive (failed numbers, STOP, unknown Slack user)."""
    found: dict[str, set[str]] = {}
    for row in conn.execute(_STATES):
        bad = {c for c in ("sms", "voice", "slack") if getattr(row, f"{c}_unhealthy")}
        if row.sms_opted_out:
            bad |= {"sms", "voice"}
        if bad:
            found[row.engineer] = bad
    return found


def away_overrides(conn: Connection, now: datetime) -> dict[str, datetime]:
    """Absences engineers set at run time (`away 3d` by SMS), still running at `now`."""
    rows = conn.execute(
        select(_states.c.engineer, _states.c.away_until).where(_states.c.away_until > now)
    ).all()
    return {row.engineer: as_utc(row.away_until) for row in rows}


def _advance(conn: Connection, incident: Any, context: TickContext) -> int:
    if incident.state == "snoozed":
        incident = _retrigger(conn, incident, context.now, "snooze ended")
    elif incident.state == "acknowledged":
        return _remind_or_retrigger(conn, incident, context)
    held, changed = hold_if_quiet(
        HoldCheck(conn, incident, context.rules, context.now, context.silences)
    )
    if held:
        return 0
    if changed:
        incident = conn.execute(_INCIDENT, {"incident": incident.id}).one()
    if incident.decision.get("action") == Action.WAIT:
        return _route_again(conn, incident, context)
    return _page_step(conn, incident, context)


def _page_step(conn: Connection, incident: Any, context: TickContext) -> int:
    ladder = Ladder.from_decision(incident.decision)
    plan = plan_step(ladder, incident.step_index, incident.round)
    # Paging now ends a suppression (an escalation by hand pages a suppressed incident).
    flags = {k: v for k, v in (incident.flags or {}).items() if k not in _SUPPRESSION}
    view, storm_told = with_storm_note(view_of(conn, incident), flags)
    rows = page_requests(
        context.rules,
        view,
        plan.engineers,
        kind=PageKind.PAGE,
        position=(incident.cycle, plan.step, plan.round),
        public_url=context.public_url,
        unhealthy=context.unhealthy,
    )
    written = enqueue(conn, rows, now=context.now)
    if storm_told and written:
        flags["storm_said"] = True
    if plan.exhausted:
        flags["exhausted"] = True
    conn.execute(
        _SET_INCIDENT,
        {
            "incident": incident.id,
            "step_index": plan.next_step,
            "round": plan.next_round,
            "next_action_at": context.now + timedelta(seconds=plan.wait_s),
            "flags": flags,
        },
    )
    where = "lead (ladder exhausted)" if plan.exhausted else f"step {plan.step + 1}"
    note = f"{where}, round {plan.round + 1}: paging {', '.join(plan.engineers)}"
    record_event(conn, incident.id, context.now, kind="paged", note=note)
    return len(written)


def _route_again(conn: Connection, incident: Any, context: TickContext) -> int:
    """A waiting incident's time has come: route again now and page if it says so."""
    alert = conn.execute(
        select(_alerts)
        .where(_alerts.c.incident_id == incident.id, _alerts.c.status == "firing")
        .order_by(_alerts.c.id)
        .limit(1)
    ).first()
    if alert is None:
        return 0
    away = away_overrides(conn, context.now)
    decision = route(context.rules, routable(alert), context.now, away=away)
    next_at = context.now if decision.action is Action.PAGE else decision.page_at
    conn.execute(
        update(_incidents)
        .where(_incidents.c.id == incident.id)
        .values(decision=decision.to_json(), next_action_at=next_at)
    )
    record_event(
        conn, incident.id, context.now, kind="rerouted", note=f"wait over: {decision.action}"
    )
    if decision.action is not Action.PAGE:
        return 0
    fresh = conn.execute(_INCIDENT, {"incident": incident.id}).one()
    return _page_step(conn, fresh, context)


def _remind_or_retrigger(conn: Connection, incident: Any, context: TickContext) -> int:
    """Ack hygiene: remind the owner once; unconfirmed within ack_timeout, page again."""
    flags = dict(incident.flags or {})
    if flags.get("reminded_at") is None and incident.acknowledged_by:
        view, storm_told = with_storm_note(view_of(conn, incident), flags)
        rows = page_requests(
            context.rules,
            view,
            [incident.acknowledged_by],
            kind=PageKind.REMINDER,
            position=(incident.cycle, -1, flags.get("reminders", 0)),
            public_url=context.public_url,
            unhealthy=context.unhealthy,
        )
        written = enqueue(conn, rows, now=context.now)
        flags |= {
            "reminded_at": context.now.isoformat(),
            "reminders": flags.get("reminders", 0) + 1,
            **({"storm_said": True} if storm_told and written else {}),
        }
        timeout = int(incident.decision.get("ack_timeout_s", 300))
        conn.execute(
            update(_incidents)
            .where(_incidents.c.id == incident.id)
            .values(flags=flags, next_action_at=context.now + timedelta(seconds=timeout))
        )
        record_event(
            conn, incident.id, context.now, kind="reminder", actor=incident.acknowledged_by
        )
        return len(written)
    fresh = _retrigger(conn, incident, context.now, "reminder not acknowledged")
    return _page_step(conn, fresh, context)


def _retrigger(conn: Connection, incident: Any, now: datetime, why: str) -> Any:
    """Back to triggered in a new cycle at the ladder's first step (§ issue 5.1)."""
    flags = {k: v for k, v in (incident.flags or {}).items() if k not in ("reminded_at",)}
    conn.execute(
        update(_incidents)
        .where(_incidents.c.id == incident.id)
        .values(
            state="triggered",
            cycle=incident.cycle + 1,
            step_index=0,
            round=0,
            acknowledged_at=None,
            acknowledged_by=None,
            next_action_at=now,
            flags=flags,
        )
    )
    record_event(conn, incident.id, now, kind="retriggered", note=why)
    return conn.execute(_INCIDENT, {"incident": incident.id}).one()


def view_of(conn: Connection, incident: Any) -> IncidentView:
    """What pages say about an incident (the runbook comes from its first alert's)."""
    runbook = conn.execute(_RUNBOOK, {"incident": incident.id}).scalar()
    return IncidentView(
        id=incident.id,
        severity=incident.severity,
        customer=incident.customer,
        system=incident.system,
        summary=incident.summary,
        decision=incident.decision,
        runbook_url=runbook,
        resolved_by=incident.resolved_by,
    )


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
