"""Storm control: what arrives for each incident, and a flag when it is more than `storm` a minute.

Grouping already keeps a storm to one incident and one page round; this keeps its figures in
`incident.flags` — `events` (events received), `keys` (distinct alert keys), `recent` (the newest
five summaries, newest first) — and sets `storm` with `storm_rate` (the most alerts seen in a
minute). The next page to the incident's owner says so once (`storm_said`).

One read (locked on PostgreSQL, so replicas do not lose counts) and one write per batch.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.escalation.opening import OpenIncident, incident_of
from app.escalation.timeline import record_event
from app.paging.requests import IncidentView
from app.routing.rules import Rules
from app.store.alert_rows import AlertRow
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]
_alerts = Base.metadata.tables["alerts"]
_MINUTE = timedelta(seconds=60)
_RECENT = 5
_CHUNK = 500


@dataclass(slots=True)
class _Arrivals:
    """One incident's share of a batch."""

    events: int = 0
    summaries: list[str] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)  # newly firing keys


def count_arrivals(
    conn: Connection,
    rows: Sequence[AlertRow],
    batch: dict[int, OpenIncident],
    *,
    rules: Rules,
    now: datetime,
) -> set[int]:
    """Add a batch's events (one entry of `rows` per event) to their incidents' figures;
    returns those of the incidents whose next action is already due.

    Incidents the batch already holds (`batch`, saved by the caller) get their new flags in
    memory; others are read and written here. On PostgreSQL this batch locks the incidents it
    counts on, and the tick skips locked incidents: telling the engine about due ones after the
    commit keeps a storm from holding off an incident's page."""
    arrivals = _arrivals(rows)
    if not arrivals:
        return set()
    known = _known_keys(conn, arrivals)
    others = _others(conn, [i for i in arrivals if i not in batch], now)
    due = {incident.id for incident in [*batch.values(), *others] if incident.due}
    for incident in [*(batch[i] for i in arrivals if i in batch), *others]:
        share = arrivals[incident.id]
        share.keys -= known.get(incident.id, set())
        system = incident.decision.get("system")
        limit = rules.policy_for(system if system in rules.systems else None).storm
        flags = _counted(dict(incident.flags), share, now, limit)
        if flags.get("storm") and not incident.flags.get("storm"):
            note = f"{flags['storm_rate']:,} alerts in 60 s (more than {limit} a minute)"
            record_event(conn, incident.id, now, kind="storm", note=note)
        incident.flags, incident.changed = flags, True
    if others:
        updates = [{"incident": incident.id, "new_flags": incident.flags} for incident in others]
        statement = update(_incidents).where(_incidents.c.id == bindparam("incident"))
        conn.execute(statement.values(flags=bindparam("new_flags")), updates)
    return due


def _arrivals(rows: Sequence[AlertRow]) -> dict[int, _Arrivals]:
    arrivals: dict[int, _Arrivals] = defaultdict(_Arrivals)
    for row in rows:
        if row.incident_id is None:
            continue
        share = arrivals[row.incident_id]
        share.events += 1
        share.summaries.append(row.summary)
        if row.newly_firing:
            share.keys.add((row.source, row.dedup_key))
    return arrivals


def _others(conn: Connection, ids: list[int], now: datetime) -> list[OpenIncident]:
    """Incidents of rows that opened or joined nothing (redeliveries, resolved events)."""
    if not ids:
        return []
    found = conn.execute(
        select(_incidents)
        .where(_incidents.c.id.in_(sorted(ids)))
        .order_by(_incidents.c.id)
        .with_for_update()
    ).all()
    return [incident_of(row, now) for row in found]


_Keys = dict[int, set[tuple[str, str]]]
_ROWS_OF_KEYS = select(_alerts.c.incident_id, _alerts.c.source, _alerts.c.dedup_key).where(
    _alerts.c.dedup_key.in_(bindparam("keys", expanding=True))
)


def _known_keys(conn: Connection, arrivals: dict[int, _Arrivals]) -> _Keys:
    """Keys of the batch that already had a row in their incident (written before this batch)."""
    wanted = {incident for incident, share in arrivals.items() if share.keys}
    keys = sorted({key for incident in wanted for _, key in arrivals[incident].keys})
    known: _Keys = defaultdict(set)
    for start in range(0, len(keys), _CHUNK):
        # By key only, filtering incidents here: with an incident condition the planner may
        # walk the incident's index, every row a storm ever sent.
        found = conn.execute(_ROWS_OF_KEYS, {"keys": keys[start : start + _CHUNK]})
        for row in found:
            if row.incident_id in wanted:
                known[row.incident_id].add((row.source, row.dedup_key))
    return known


def _counted(flags: dict[str, Any], share: _Arrivals, now: datetime, storm: int) -> dict[str, Any]:
    flags["events"] = flags.get("events", 0) + share.events
    flags["keys"] = flags.get("keys", 0) + len(share.keys)
    flags["recent"] = _newest(flags.get("recent", []), share.summaries)
    started = flags.get("rate_start")
    if started is None or now - as_utc(datetime.fromisoformat(started)) >= _MINUTE:
        flags["rate_start"], flags["rate_count"] = now.isoformat(), share.events
    else:
        flags["rate_count"] = flags.get("rate_count", 0) + share.events
    if flags["rate_count"] > storm:
        flags["storm"] = True
        flags["storm_rate"] = max(flags.get("storm_rate", 0), flags["rate_count"])
    return flags


def _newest(recent: list[str], arrived: list[str]) -> list[str]:
    """The newest distinct summaries, newest first."""
    newest: list[str] = []
    for summary in [*reversed(arrived), *recent]:
        if summary not in newest:
            newest.append(summary)
        if len(newest) == _RECENT:
            break
    return newest


def storm_note(flags: dict[str, Any]) -> str | None:
    """What the next page says about a storm not yet told (`storm: 1,240 alerts in 60 s`)."""
    if not flags.get("storm") or flags.get("storm_said"):
        return None
    return f"storm: {flags.get('storm_rate', 0):,} alerts in 60 s"


def with_storm_note(view: IncidentView, flags: dict[str, Any]) -> tuple[IncidentView, bool]:
    """The page's view of the incident with the storm note ahead of its summary, once."""
    note = storm_note(flags)
    if note is None:
        return view, False
    return replace(view, summary=f"{note}. {view.summary}"), True
