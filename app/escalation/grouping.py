"""Open, join, reopen and source-resolve incidents for a writer batch (§3 "Alerts and incidents").

A new firing row is routed and joins the open incident of its group, else reopens its key's
incident when it resolved within `flap.window`, else opens one (opening.py, with its holds). The
routing decision is taken when an incident opens and stored with it. Every event counts on its
incident (storm.py); a resolved incident releases the dependents it kept suppressed. The
database's partial unique index keeps one open incident per group even across replicas; a lost
race surfaces as IntegrityError and the writer retries its batch, which then joins the winner's
incident.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from app.core.alert import SEVERITY_RANK, Severity
from app.escalation.opening import (
    OpenIncident,
    acked_load,
    first_action_at,
    held_until,
    incident_of,
    open_incident,
    reopen_incident,
)
from app.escalation.release import release_dependents
from app.escalation.resolution import notify_resolved
from app.escalation.storm import count_arrivals
from app.escalation.tick import away_overrides
from app.escalation.timeline import record_event
from app.routing.decision import Action, group_of_view, route
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


class IncidentDesk:
    """The writer's incident hook, reading the rules in force at each batch."""

    def __init__(self, rules: RulesSource, *, public_url: str) -> None:
        self._rules = rules
        self._public_url = public_url

    def attach(self, conn: Connection, rows: Sequence[AlertRow], now: datetime) -> set[int]:
        """Give every new firing row an incident and count every event on its incident;
        returns ids of incidents with work due now (opened, reopened, rerouted, or touched
        while their next action is due)."""
        rules = self._rules.rules
        new = [row for row in _unique(rows) if row.newly_firing]
        due, batch = self._assign(conn, new, rules, now)
        due |= count_arrivals(conn, rows, batch, rules=rules, now=now)
        return due | _save(conn, batch.values(), rules, now)

    def _assign(
        self, conn: Connection, new: list[AlertRow], rules: Rules, now: datetime
    ) -> tuple[set[int], dict[int, OpenIncident]]:
        """Open, reopen or join an incident for each new firing row; (opened ids, the batch's
        incidents by id, changes not yet saved)."""
        if not new:
            return set(), {}
        # Matching is cheap; the full ranking runs only for rows that open an incident.
        keys = [group_of_view(rules, row, match_view(row, row.severity)) for row in new]
        groups = _open_incidents(conn, set(keys), now)
        opened: set[int] = set()
        routing = _Routing(conn, now)
        for row, key in zip(new, keys, strict=True):
            incident = groups.get(key)
            if incident is None and row.grouping_only:
                continue  # over its source's ingest limit: stored, but opens nothing
            if incident is None:
                incident = reopen_incident(conn, row, rules, now)
                if incident is None:
                    decision = route(rules, row, now, load=routing.load, away=routing.away)
                    incident = open_incident(conn, row, decision, rules, now)
                groups[key] = incident
                opened.add(incident.id)
            else:
                _join(incident, row)
            row.incident_id = incident.id
        return opened, {incident.id: incident for incident in groups.values()}

    def resolve_cleared(
        self, conn: Connection, rows: Sequence[AlertRow], now: datetime
    ) -> set[int]:
        """Resolve open incidents whose alert rows have all resolved (after the rows flushed);
        returns their ids (their resolved notes wait in the outbox) and those of the dependent
        incidents their resolving released."""
        touched = {r.incident_id for r in _unique(rows) if r.status == "resolved" and r.incident_id}
        if not touched:
            return set()
        still_firing = set(
            conn.execute(
                select(_alerts.c.incident_id)
                .where(_alerts.c.incident_id.in_(touched), _alerts.c.status == "firing")
                .distinct()
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
        rules = self._rules.rules
        for incident_id in sorted(resolved):
            notify_resolved(conn, incident_id, rules=rules, now=now, public_url=self._public_url)
            record_event(
                conn,
                incident_id,
                now,
                kind="resolved",
                channel="source",
                note="all alerts resolved",
            )
        if not resolved:
            return set()
        return resolved | release_dependents(conn, resolved, rules=rules, now=now)


class _Routing:
    """Acked load and run-time absences, read once per batch when first needed."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now
        self._load: dict[str, int] | None = None
        self._away: dict[str, datetime] | None = None

    @property
    def load(self) -> dict[str, int]:
        """Engineer → acknowledged open incidents."""
        if self._load is None:
            self._load = acked_load(self._conn)
        return self._load

    @property
    def away(self) -> dict[str, datetime]:
        """Engineer → end of a run-time absence."""
        if self._away is None:
            self._away = away_overrides(self._conn, self._now)
        return self._away


def _unique(rows: Sequence[AlertRow]) -> list[AlertRow]:
    return list({id(row): row for row in rows}.values())


# Locked (PostgreSQL): the batch rewrites their counts and flags. Built once (hot path).
_OPEN_OF_GROUPS = (
    select(_incidents)
    .where(
        _incidents.c.group_key.in_(bindparam("groups", expanding=True)),
        _incidents.c.state != "resolved",
    )
    .order_by(_incidents.c.id)
    .with_for_update()
)


def _open_incidents(conn: Connection, groups: set[str], now: datetime) -> dict[str, OpenIncident]:
    result = conn.execute(_OPEN_OF_GROUPS, {"groups": sorted(groups)})
    return {row.group_key: incident_of(row, now) for row in result}


def _join(incident: OpenIncident, row: AlertRow) -> None:
    incident.alert_count += 1
    if SEVERITY_RANK[Severity(row.severity)] > SEVERITY_RANK[Severity(incident.severity)]:
        incident.severity = row.severity
        incident.raised_by = row
    incident.changed = True


_SAVE_COUNTS = (
    update(_incidents)
    .where(_incidents.c.id == bindparam("incident"))
    .values(
        alert_count=bindparam("count"), severity=bindparam("level"), flags=bindparam("new_flags")
    )
)


def _save(
    conn: Connection, incidents: Iterable[OpenIncident], rules: Rules, now: datetime
) -> set[int]:
    """Write the batch's incidents' counts, severity and flags; returns those that now page at
    once (their severity rose before anyone was paged)."""
    due_now: set[int] = set()
    changed = sorted((i for i in incidents if i.changed), key=lambda found: found.id)
    if changed:
        counts = [
            {"incident": i.id, "count": i.alert_count, "level": i.severity, "new_flags": i.flags}
            for i in changed
        ]
        conn.execute(_SAVE_COUNTS, counts)
    for incident in changed:
        raised_by = incident.raised_by
        if raised_by is not None and incident.decision["action"] != Action.PAGE:
            # Nobody has been paged yet (waiting or dashboard-only): route again at the new
            # severity, and page now if it says so (and nothing holds it).
            decision = route(rules, raised_by, now, away=away_overrides(conn, now))
            next_at = held_until(incident.flags, first_action_at(decision, now))
            if next_at == now:
                due_now.add(incident.id)
            values = {"decision": decision.to_json(), "next_action_at": next_at}
            conn.execute(update(_incidents).where(_incidents.c.id == incident.id).values(values))
            record_event(
                conn,
                incident.id,
                now,
                kind="rerouted",
                channel=None,
                note=f"severity rose to {incident.severity}",
            )
    return due_now
