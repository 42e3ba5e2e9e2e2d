"""Open, join, reopen and source-resolve incidents for a writer batch (§3 "Alerts and incidents").

A new firing row is routed and joins the open incident of its group, else reopens its key's
incident when it resolved within `flap.window`, else opens one. The routing decision is taken
when an incident opens and stored with it. The database's partial unique index keeps one open
incident per group even across replicas; a lost race surfaces as IntegrityError and the writer
retries its batch, which then joins the winner's incident.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clock import as_utc
from app.escalation.timeline import record_event
from app.ingest.base import SEVERITY_RANK, Severity
from app.routing.decision import Action, Decision, route
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


def first_action_at(decision: Decision, now: datetime) -> datetime | None:
    """When the tick should first act: now to page, at `page_at` to wait, never for dashboard."""
    if decision.action is Action.PAGE:
        return now
    if decision.action is Action.WAIT:
        return decision.page_at
    return None


class IncidentDesk:
    """The writer's incident hook, reading the rules in force at each batch."""

    def __init__(self, rules: RulesSource) -> None:
        self._rules = rules

    async def attach(
        self, conn: AsyncConnection, rows: Sequence[AlertRow], now: datetime
    ) -> set[int]:
        """Give every new firing row an incident; returns the ids of incidents (re)opened."""
        new = [row for row in _unique(rows) if row.newly_firing]
        if not new:
            return set()
        rules = self._rules.rules
        load = await _acked_load(conn)
        decisions = [route(rules, row, now, load=load) for row in new]
        groups = await _open_incidents(conn, {d.group for d in decisions})
        opened: set[int] = set()
        for row, decision in zip(new, decisions, strict=True):
            incident = groups.get(decision.group)
            if incident is None:
                incident = await _reopen(conn, row, rules, now) or await _open(
                    conn, row, decision, rules, now
                )
                groups[decision.group] = incident
                opened.add(incident.id)
            else:
                _join(incident, row)
            row.incident_id = incident.id
        await _save_joins(conn, groups.values(), rules, new, now)
        return opened

    async def resolve_cleared(
        self, conn: AsyncConnection, rows: Sequence[AlertRow], now: datetime
    ) -> None:
        """Resolve open incidents whose alert rows have all resolved (after the rows flushed)."""
        touched = {r.incident_id for r in _unique(rows) if r.status == "resolved" and r.incident_id}
        if not touched:
            return
        still_firing = set(
            (
                await conn.execute(
                    select(_alerts.c.incident_id)
                    .where(_alerts.c.incident_id.in_(touched), _alerts.c.status == "firing")
                    .distinct()
                )
            ).scalars()
        )
        cleared = touched - still_firing
        if not cleared:
            return
        result = await conn.execute(
            update(_incidents)
            .where(_incidents.c.id.in_(cleared), _incidents.c.state != "resolved")
            .values(state="resolved", resolved_at=now, resolved_by=None, next_action_at=None)
            .returning(_incidents.c.id)
        )
        for incident_id in result.scalars():
            await record_event(
                conn,
                incident_id,
                now,
                kind="resolved",
                channel="source",
                note="all alerts resolved",
            )


def _unique(rows: Sequence[AlertRow]) -> list[AlertRow]:
    return list({id(row): row for row in rows}.values())


async def _acked_load(conn: AsyncConnection) -> dict[str, int]:
    result = await conn.execute(
        select(_incidents.c.acknowledged_by, func.count())
        .where(_incidents.c.state == "acknowledged", _incidents.c.acknowledged_by.is_not(None))
        .group_by(_incidents.c.acknowledged_by)
    )
    return dict(result.all())


async def _open_incidents(conn: AsyncConnection, groups: set[str]) -> dict[str, _Open]:
    result = await conn.execute(
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


async def _open(
    conn: AsyncConnection, row: AlertRow, decision: Decision, rules: Rules, now: datetime
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
    incident_id = (
        await conn.execute(insert(_incidents).returning(_incidents.c.id), values)
    ).scalar_one()
    await record_event(
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


async def _reopen(
    conn: AsyncConnection, row: AlertRow, rules: Rules, now: datetime
) -> _Open | None:
    """Reopen the incident this key's previous cycle belonged to, if it resolved within the
    flap window (§3): a flapping alert returns to its incident instead of opening another."""
    previous = (
        await conn.execute(
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
    await conn.execute(
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
    await record_event(
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
    incident.changed = True


async def _save_joins(
    conn: AsyncConnection, incidents: Any, rules: Rules, rows: Sequence[AlertRow], now: datetime
) -> None:
    by_id: Mapping[int, AlertRow] = {row.incident_id: row for row in rows if row.incident_id}
    for incident in incidents:
        if not incident.changed:
            continue
        values: dict[str, Any] = {
            "alert_count": incident.alert_count,
            "severity": incident.severity,
        }
        rose = incident.severity != incident.decision["severity"]
        if rose and incident.decision["action"] != Action.PAGE and incident.id in by_id:
            # Nobody has been paged yet (waiting or dashboard-only): route again at the new
            # severity, and page now if it says so.
            decision = route(rules, by_id[incident.id], now)
            values |= {
                "decision": decision.to_json(),
                "next_action_at": first_action_at(decision, now),
            }
            await record_event(
                conn,
                incident.id,
                now,
                kind="rerouted",
                channel=None,
                note=f"severity rose to {incident.severity}",
            )
        await conn.execute(
            update(_incidents).where(_incidents.c.id == incident.id).values(**values)
        )
