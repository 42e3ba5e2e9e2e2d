"""The writer's incident hook: open, join, reopen and source-resolve incidents for a batch.

A new firing row is routed and joins the open incident of its group, else reopens its key's
incident when it resolved within `flap.window` (quiet while it flaps), else opens one, with the
holds that keep it quiet (an upstream system down, a maintenance window). The routing decision
is taken when an incident opens and stored with it. Every event counts on its incident (storm
figures). An incident whose alerts have all resolved is resolved by its monitor, through the same
transition as a person's resolve. The database's partial unique index keeps one open incident
per group even across replicas; a lost race surfaces as IntegrityError and the writer retries
its batch, which then joins the winner's incident.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Connection

from app.core.alert import SEVERITY_RANK, Severity
from app.core.incident import ActionKind, EventKind, IncidentState
from app.incidents import holds, store
from app.incidents.actions import ActionContext, IncidentAction, perform
from app.incidents.holds import HoldContext
from app.incidents.model import (
    Event,
    Incident,
    IncidentFlags,
    LadderMarks,
    first_action_at,
    held_until,
)
from app.incidents.notify import Effects
from app.incidents.rerouting import route_again
from app.incidents.storm import Arrivals, arrivals_of, counted
from app.incidents.transitions import Who
from app.routing.decision import Action, Decision, group_of_view, route
from app.routing.matcher import match_view
from app.routing.rules import Rules
from app.store import alert_queries, engineer_states
from app.store.alert_rows import AlertRow


class RulesSource(Protocol):
    """Anything that hands out the rules in force (the RulesHolder does)."""

    @property
    def rules(self) -> Rules: ...


@dataclass(slots=True)
class _InBatch:
    """An incident the batch works on: as read (or as opened) and as the batch leaves it."""

    before: Incident
    now: Incident
    due: bool  # its next action was due when the batch read it
    raised_by: AlertRow | None = None  # the row that raised its severity in this batch
    joined: int = 0  # rows that joined it in this batch

    def settle_joins(self) -> None:
        """Fold the batch's joins into the incident, once (a storm joins thousands of rows)."""
        if not self.joined:
            return
        changes: dict[str, object] = {"alert_count": self.now.alert_count + self.joined}
        if self.raised_by is not None:
            # The page that follows names the alert that raised the severity, not the first one.
            changes |= {"severity": self.raised_by.severity, "summary": self.raised_by.summary}
        self.now = self.now.with_changes(**changes)
        self.joined = 0


class IncidentDesk:
    """The writer's incident hook, reading the rules in force at each batch."""

    def __init__(self, rules: RulesSource, *, public_url: str) -> None:
        self._rules = rules
        self._public_url = public_url

    def attach(self, conn: Connection, rows: Sequence[AlertRow], now: datetime) -> set[int]:
        """Give every new firing row an incident and count every event on its incident;
        returns ids of incidents with work due now (opened, reopened, rerouted, or touched
        while their next action is due)."""
        effects = Effects(conn, self._rules.rules, now, self._public_url)
        new = [row for row in _unique(rows) if row.newly_firing]
        opened, batch = _assign(effects, new)
        due = opened | _count_arrivals(effects, rows, batch)
        return due | _save(effects, list(batch.values()))

    def settle(self, conn: Connection, rows: Sequence[AlertRow], now: datetime) -> set[int]:
        """After the rows flushed, act on what the monitors said: an acknowledgement (a
        PagerDuty `acknowledge` event) acknowledges its incident through the action seam, and
        open incidents whose alert rows have all resolved are resolved by their monitor.
        Returns the ids of incidents with work due (resolved notes, released dependents)."""
        unique = _unique(rows)
        context = ActionContext(self._rules.rules, now, self._public_url)
        for row in unique:
            if row.acknowledged and row.incident_id is not None:
                ack = IncidentAction(ActionKind.ACK, row.incident_id)
                perform(conn, ack, Who.source(row.source), context)
        touched = {r.incident_id for r in unique if r.status == "resolved" and r.incident_id}
        if not touched:
            return set()
        done: set[int] = set()
        for incident_id in sorted(touched - alert_queries.still_firing(conn, touched)):
            resolve = IncidentAction(ActionKind.RESOLVE, incident_id, note="all alerts resolved")
            outcome = perform(conn, resolve, Who.source("source"), context)
            if outcome.changed:
                done |= {incident_id} | outcome.released
        return done


def _unique(rows: Sequence[AlertRow]) -> list[AlertRow]:
    return list({id(row): row for row in rows}.values())


def _in_batch(incident: Incident, now: datetime) -> _InBatch:
    next_at = incident.next_action_at
    due = incident.is_open and next_at is not None and next_at <= now
    return _InBatch(incident, incident, due)


def _assign(effects: Effects, new: list[AlertRow]) -> tuple[set[int], dict[int, _InBatch]]:
    """Open, reopen or join an incident for each new firing row; (opened ids, the batch's
    incidents by id)."""
    if not new:
        return set(), {}
    rules, now = effects.rules, effects.now
    # Matching is cheap; the full ranking runs only for rows that open an incident.
    keys = [group_of_view(rules, row, match_view(row, row.severity)) for row in new]
    groups = {i.group_key: _in_batch(i, now) for i in store.open_of_groups(effects.conn, set(keys))}
    opened: set[int] = set()
    routing = _Routing(effects.conn, now)
    for row, key in zip(new, keys, strict=True):
        entry = groups.get(key)
        if entry is None and row.grouping_only:
            continue  # over its source's ingest limit: stored, but opens nothing
        if entry is None:
            incident = _reopen(effects, row)
            if incident is None:
                decision = route(rules, row, now, load=routing.load, away=routing.away)
                incident = _open(effects, row, decision)
            entry = groups[key] = _InBatch(incident, incident, due=False)
            opened.add(incident.id)
        else:
            _join(entry, row)
        row.incident_id = entry.now.id
    for entry in groups.values():
        entry.settle_joins()
    return opened, {entry.now.id: entry for entry in groups.values()}


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
            self._load = store.acked_load(self._conn)
        return self._load

    @property
    def away(self) -> dict[str, datetime]:
        """Engineer → end of a run-time absence."""
        if self._away is None:
            self._away = engineer_states.away_overrides(self._conn, self._now)
        return self._away


def _open(effects: Effects, row: AlertRow, decision: Decision) -> Incident:
    """Insert the incident `row` opens, routed by `decision` and held as the rules say."""
    now = effects.now
    draft = Incident(
        id=0,
        group_key=decision.group,
        state=IncidentState.TRIGGERED,
        system=decision.system,
        customer=decision.customer,
        severity=row.severity,
        summary=row.summary,
        unrouted=decision.unrouted,
        alert_count=1,
        opened_at=now,
        acknowledged_at=None,
        acknowledged_by=None,
        resolved_at=None,
        resolved_by=None,
        next_action_at=None,
        decision_json=decision.to_json(),
        rules_version=effects.rules.version,
        cycle=1,
        step_index=0,
        round=0,
        flags=IncidentFlags(),
    )
    held, events = holds.check(draft, HoldContext(effects.conn, effects.rules, now), opening=True)
    held = held.with_changes(
        next_action_at=held_until(held.flags.holds, first_action_at(decision, now))
    )
    incident = store.insert_incident(effects.conn, held)
    opened = Event(EventKind.OPENED, note=_opened_note(decision), channel=row.source)
    store.record(effects.conn, incident.id, now, [opened, *events])
    return incident


def _opened_note(decision: Decision) -> str:
    where = decision.system or "unrouted"
    if decision.action is Action.PAGE:
        first = ", ".join(decision.steps[0].engineers) if decision.steps else "nobody"
        return f"{where}: paging {first}"
    if decision.action is Action.WAIT and decision.page_at is not None:
        return f"{where}: waiting for working hours until {decision.page_at.isoformat()}"
    return f"{where}: {decision.severity} is dashboard only"


def _reopen(effects: Effects, row: AlertRow) -> Incident | None:
    """Reopen the incident this key's previous cycle belonged to, if it resolved within the
    flap window: a flapping alert returns to its incident instead of opening another, and pages
    again only once it is stable."""
    conn, rules, now = effects.conn, effects.rules, effects.now
    previous = store.previous_of_key(conn, row.source, row.dedup_key)
    if previous is None or previous.resolved_at is None:
        return None
    system = previous.system if previous.system in rules.systems else None
    if now - previous.resolved_at > rules.policy_for(system).flap.window:
        return None
    # It keeps its storm figures and reminder count, not the last cycle's holds or marks.
    kept = IncidentFlags(
        storm=previous.flags.storm, marks=LadderMarks(reminders=previous.flags.marks.reminders)
    )
    fresh = previous.with_changes(
        state=IncidentState.TRIGGERED,
        resolved_at=None,
        resolved_by=None,
        acknowledged_at=None,
        acknowledged_by=None,
        cycle=previous.cycle + 1,
        step_index=0,
        round=0,
        severity=row.severity,
        summary=row.summary,
        alert_count=previous.alert_count + 1,
        flags=kept,
    )
    context = HoldContext(conn, rules, now, reopened_key=(row.source, row.dedup_key))
    held, events = holds.check(fresh, context, opening=True)
    reopened = held.with_changes(next_action_at=held_until(held.flags.holds, now))
    store.save(conn, previous, reopened)
    note = f"{row.dedup_key} fired again within the flap window"
    event = Event(EventKind.REOPENED, note=note, channel=row.source)
    store.record(conn, reopened.id, now, [event, *events])
    return reopened


def _join(entry: _InBatch, row: AlertRow) -> None:
    entry.joined += 1
    highest = entry.raised_by.severity if entry.raised_by is not None else entry.now.severity
    if SEVERITY_RANK[Severity(row.severity)] > SEVERITY_RANK[Severity(highest)]:
        entry.raised_by = row


def _count_arrivals(
    effects: Effects, rows: Sequence[AlertRow], batch: dict[int, _InBatch]
) -> set[int]:
    """Add a batch's events to their incidents' storm figures; returns the incidents whose next
    action is already due.

    Incidents of rows that opened or joined nothing (redeliveries, resolved events) are read
    here, locked on PostgreSQL (so replicas do not lose counts), and join the batch to be
    saved. The tick skips locked incidents: telling the engine about due ones after the commit
    keeps a storm from holding off an incident's page."""
    arrivals = arrivals_of(rows)
    if not arrivals:
        return set()
    known = alert_queries.known_keys(
        effects.conn, {i: share.keys for i, share in arrivals.items() if share.keys}
    )
    others = [i for i in arrivals if i not in batch]
    for incident in store.lock_many(effects.conn, others):
        batch[incident.id] = _in_batch(incident, effects.now)
    for incident_id, share in arrivals.items():
        if incident_id in batch:
            share.keys -= known.get(incident_id, set())
            _count(effects, batch[incident_id], share)
    return {entry.now.id for entry in batch.values() if entry.due}


def _count(effects: Effects, entry: _InBatch, share: Arrivals) -> None:
    incident = entry.now
    system = incident.system if incident.system in effects.rules.systems else None
    limit = effects.rules.policy_for(system).storm
    figures = counted(incident.flags.storm, share, effects.now, limit)
    if figures.storm and not incident.flags.storm.storm:
        note = f"{figures.peak_rate:,} alerts in 60 s (more than {limit} a minute)"
        store.record(effects.conn, incident.id, effects.now, [Event(EventKind.STORM, note=note)])
    entry.now = incident.with_changes(flags=replace(incident.flags, storm=figures))


def _save(effects: Effects, batch: list[_InBatch]) -> set[int]:
    """Write the batch's incidents' counts, severity and storm figures; returns those that now
    page at once (their severity rose before anyone was paged)."""
    changed = sorted((e for e in batch if e.now != e.before), key=lambda e: e.now.id)
    store.save_counts(effects.conn, [entry.now for entry in changed])
    due_now: set[int] = set()
    for entry in changed:
        incident = entry.now
        if entry.raised_by is None or incident.action is Action.PAGE:
            continue
        # Nobody has been paged yet (waiting or dashboard-only): route again at the new
        # severity, and page now if it says so (and nothing holds it).
        decision = route_again(effects, incident, alert=entry.raised_by)
        if decision is None:
            continue
        next_at = held_until(incident.flags.holds, first_action_at(decision, effects.now))
        if next_at == effects.now:
            due_now.add(incident.id)
        rerouted = incident.with_changes(decision_json=decision.to_json(), next_action_at=next_at)
        store.save(effects.conn, incident, rerouted)
        note = f"severity rose to {incident.severity}"
        store.record(effects.conn, incident.id, effects.now, [Event(EventKind.REROUTED, note=note)])
    return due_now
