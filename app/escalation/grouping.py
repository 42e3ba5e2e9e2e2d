"""Open, join, reopen and source-resolve incidents for a writer batch (§3 "Alerts and incidents").

A new firing row is routed and joins the open incident of its group, else reopens its key's
incident when it resolved within `flap.window`, else opens one. The routing decision is taken
when an incident opens and stored with it. The database's partial unique index keeps one open
incident per group even across replicas; a lost race surfaces as IntegrityError and the writer
retries its batch, which then joins the winner's incident.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.escalation.resolution import notify_resolved
from app.escalation.tick import away_overrides
from app.escalation.timeline import record_event
from app.ingest.base import SEVERITY_RANK, Severity
from app.routing.decision import Action, Decision, group_key, route
from app.routing.matcher import match_view
from app.routing.rules import Rules
from app.store.alert_rows import AlertRow
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]
_alerts = Base.metadata.tables["alerts"]


class RulesSource(Protocol):
    """Anything that hands out the rules in force (the RulesHolder does)."""

    @property
    def rules(self) -> Rules: ...


@dataclass(slots=True)
class _Open:
    """The part of an open incident a batch can change."""

    id: int
    severity: str
    alert_count: int
    decision: dict[str, Any]
    changed: bool = False
    raised_by: AlertRow | None = None  # the row that raised the severity in this batch


def first_action_at(decision: Decision, now: datetime) -> datetime | None:
    """When the tick should first act: now to page, at `page_at` to wait, never for dashboard."""
    if decision.action is Action.PAGE:
        return now
    if decision.action is Action.WAIT:
        return decision.page_at
    return None


class IncidentDesk:
    """The writer's incident hook, reading the rules in force at each batch."""

    def __init__(self, rules: RulesSource, *, public_url: str) -> None:
        self._rules = rules
        self._public_url = public_url

    def attach(self, conn: Connection, rows: Sequence[AlertRow], now: datetime) -> set[int]:
        """Give every new firing row an incident; returns ids of incidents with work due now
        (opened, reopened, or rerouted to page at once)."""
        new = [row for row in _unique(rows) if row.newly_firing]
        if not new:
            return set()
        rules = self._rules.rules
        # Matching is cheap; the full ranking runs only for rows that open an incident.
        keys = [group_key(rules, row, _system_of(rules, row)) for row in new]
        groups = _open_incidents(conn, set(keys))
        opened: set[int] = set()
        load: dict[str, int] | None = None
        away: dict[str, datetime] | None = None
        for row, key in zip(new, keys, strict=True):
            incident = groups.get(key)
            if incident is None:
                incident = _reopen(conn, row, rules, now)
                if incident is None:
                    load = _acked_load(conn) if load is None else load
                    away = away_overrides(conn, now) if away is None else away
                    decision = route(rules, row, now, load=load, away=away)
                    incident = _open(conn, row, decision, rules, now)
                groups[key] = incident
                opened.add(incident.id)
            else:
                _join(incident, row)
            row.incident_id = incident.id
        return opened | _save_joins(conn, groups.values(), rules, now)

    def resolve_cleared(
        self, conn: Connection, rows: Sequence[AlertRow], now: datetime
    ) -> set[int]:
        """Resolve open incidents whose alert rows have all resolved (after the rows flushed);
        returns their ids (their resolved notes wait in the outbox)."""
        touched = {r.incident_id for r in _unique(rows) if r.status == "resolved" and r.incident_id}
        if not touched:
            return set()
        still_firing = set(
            (
                conn.execute(
                    select(_alerts.c.incident_id)
                    .where(_alerts.c.incident_id.in_(touched), _alerts.c.status == "firing")
                    .distinct()
                )
            ).scalars()
        )
        cleared = touched - still_firing
        if not cleared:
            return set()
        result = conn.execute(
            update(_incidents)
            .where(_incidents.c.id.in_(cleared), _incidents.c.state != "resolved")
            .values(state="resolved", resolved_at=now, resolved_by=None, next_action_at=None)
            .returning(_incidents.c.id)
        )
        resolved = set(result.scalars())
        for incident_id in resolved:
            notify_resolved(
                conn, incident_id, rules=self._rules.rules, now=now, public_url=self._public_url
            )
            record_event(
                conn,
                incident_id,
                now,
                kind="resolved",
                channel="source",
                note="all alerts resolved",
            )
        return resolved


def _system_of(rules: Rules, row: AlertRow) -> str | None:
    return rules.match(match_view(row, row.severity))


def _unique(rows: Sequence[AlertRow]) -> list[AlertRow]:
    return list({id(row): row for row in rows}.values())


def _acked_load(conn: Connection) -> dict[str, int]:
    result = conn.execute(
        select(_incidents.c.acknowledged_by, func.count())
        .where(_incidents.c.state == "acknowledged", _incidents.c.acknowledged_by.is_not(None))
        .group_by(_incidents.c.acknowledged_by)
    )
    return dict(result.all())


def _open_incidents(conn: Connection, groups: set[str]) -> dict[str, _Open]:
    result = conn.execute(
        select(
            _incidents.c.id,
            _incidents.c.group_key,
            _incidents.c.severity,
            _incidents.c.alert_count,
            _incidents.c.decision,
        ).where(_incidents.c.group_key.in_(groups), _incidents.c.state != "resolved")
    )
    return {
        row.group_key: _Open(row.id, row.severity, row.alert_count, row.decision) for row in result
    }


def _open(
    conn: Connection, row: AlertRow, decision: Decision, rules: Rules, now: datetime
) -> _Open:
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
        "next_action_at": first_action_at(decision, now),
        "decision": decision_json,
        "rules_version": rules.version,
        "cycle": 1,
        "step_index": 0,
        "round": 0,
        "flags": {},
    }
    incident_id = (conn.execute(insert(_incidents).returning(_incidents.c.id), values)).scalar_one()
    record_event(
        conn, incident_id, now, kind="opened", channel=row.source, note=_opened_note(decision)
    )
    return _Open(incident_id, row.severity, 1, decision_json)


def _opened_note(decision: Decision) -> str:
    where = decision.system or "unrouted"
    if decision.action is Action.PAGE:
        first = ", ".join(decision.steps[0].engineers) if decision.steps else "nobody"
        return f"{where}: paging {first}"
    if decision.action is Action.WAIT and decision.page_at is not None:
        return f"{where}: waiting for working hours until {decision.page_at.isoformat()}"
    return f"{where}: {decision.severity} is dashboard only"


def _reopen(conn: Connection, row: AlertRow, rules: Rules, now: datetime) -> _Open | None:
    """Reopen the incident this key's previous cycle belonged to, if it resolved within the
    flap window (§3): a flapping alert returns to its incident instead of opening another."""
    previous = (
        conn.execute(
            select(
                _incidents.c.id,
                _incidents.c.resolved_at,
                _incidents.c.system,
                _incidents.c.decision,
                _incidents.c.severity,
                _incidents.c.alert_count,
                _incidents.c.cycle,
            )
            .join(_alerts, _alerts.c.incident_id == _incidents.c.id)
            .where(
                _alerts.c.source == row.source,
                _alerts.c.dedup_key == row.dedup_key,
                _incidents.c.state == "resolved",
            )
            .order_by(_alerts.c.id.desc())
            .limit(1)
        )
    ).first()
    if previous is None or previous.resolved_at is None:
        return None
    window: timedelta = rules.policy_for(
        previous.system if previous.system in rules.systems else None
    ).flap.window
    if now - as_utc(previous.resolved_at) > window:
        return None
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
            next_action_at=now,
            severity=row.severity,
            alert_count=previous.alert_count + 1,
        )
    )
    record_event(
        conn,
        previous.id,
        now,
        kind="reopened",
        channel=row.source,
        note=f"{row.dedup_key} fired again within the flap window",
    )
    return _Open(previous.id, row.severity, previous.alert_count + 1, previous.decision)


def _join(incident: _Open, row: AlertRow) -> None:
    incident.alert_count += 1
    if SEVERITY_RANK[Severity(row.severity)] > SEVERITY_RANK[Severity(incident.severity)]:
        incident.severity = row.severity
        incident.raised_by = row
    incident.changed = True


def _save_joins(
    conn: Connection, incidents: Iterable[_Open], rules: Rules, now: datetime
) -> set[int]:
    """Write joined incidents' counts and severity; returns those that now page at once."""
    due_now: set[int] = set()
    for incident in incidents:
        if not incident.changed:
            continue
        values: dict[str, Any] = {
            "alert_count": incident.alert_count,
            "severity": incident.severity,
        }
        raised_by = incident.raised_by
        if raised_by is not None and incident.decision["action"] != Action.PAGE:
            # Nobody has been paged yet (waiting or dashboard-only): route again at the new
            # severity, and page now if it says so.
            decision = route(rules, raised_by, now, away=away_overrides(conn, now))
            if decision.action is Action.PAGE:
                due_now.add(incident.id)
            values |= {
                "decision": decision.to_json(),
                "next_action_at": first_action_at(decision, now),
            }
            record_event(
                conn,
                incident.id,
                now,
                kind="rerouted",
                channel=None,
                note=f"severity rose to {incident.severity}",
            )
        conn.execute(update(_incidents).where(_incidents.c.id == incident.id).values(**values))
    return due_now
