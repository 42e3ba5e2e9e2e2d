"""The only code that writes `incidents`, `incident_events` and `note_visibility`.

Everything runs inside the caller's transaction on a SQLAlchemy Connection. Reads that lock do
so where the database can (PostgreSQL: FOR UPDATE, or SKIP LOCKED when replicas split the due
work); SQLite's single writer is its own lock. The statements of the paging path are built once
and run with parameters: SQLAlchemy then skips building and hashing them on every call.
"""

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from app.core.incident import OPEN_STATES, EventKind, IncidentState
from app.errors import NotFound
from app.incidents.model import Event, Incident
from app.store.tables import Base
from app.store.upsert import claim

_incidents = Base.metadata.tables["incidents"]
_events = Base.metadata.tables["incident_events"]
_visibility = Base.metadata.tables["note_visibility"]
_alerts = Base.metadata.tables["alerts"]
_pages = Base.metadata.tables["pages"]
_BATCH = 200
_OPEN = [state.value for state in OPEN_STATES]

_DUE = (
    select(_incidents)
    .where(_incidents.c.state.in_(_OPEN), _incidents.c.next_action_at <= bindparam("now"))
    .order_by(_incidents.c.next_action_at)
    .limit(_BATCH)
)
_DUE_AMONG = _DUE.where(_incidents.c.id.in_(bindparam("ids", expanding=True)))
_BY_ID = select(_incidents).where(_incidents.c.id == bindparam("incident"))
_SET = update(_incidents).where(_incidents.c.id == bindparam("incident"))
_OPEN_OF_GROUPS = (
    select(_incidents)
    .where(
        _incidents.c.group_key.in_(bindparam("groups", expanding=True)),
        _incidents.c.state != IncidentState.RESOLVED.value,
    )
    .order_by(_incidents.c.id)
    .with_for_update()
)
_SAVE_COUNTS = _SET.values(
    alert_count=bindparam("count"),
    severity=bindparam("level"),
    summary=bindparam("text"),
    flags=bindparam("new_flags"),
)


def load(conn: Connection, incident_id: int) -> Incident:
    """The incident, locked for this transaction where the database can; NotFound if none."""
    row = conn.execute(_BY_ID.with_for_update(), {"incident": incident_id}).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return Incident.from_row(row)


def find(conn: Connection, incident_id: int) -> Incident | None:
    """The incident, or None (not locked)."""
    row = conn.execute(_BY_ID, {"incident": incident_id}).first()
    return Incident.from_row(row) if row is not None else None


def claim_due(
    conn: Connection, now: datetime, among: Collection[int] | None = None
) -> list[Incident]:
    """Open incidents whose next action is due (only those of `among`, if given), locked;
    on PostgreSQL those another replica holds are skipped."""
    if among is None:
        rows = conn.execute(claim(_DUE, conn), {"now": now}).all()
    else:
        rows = conn.execute(claim(_DUE_AMONG, conn), {"now": now, "ids": sorted(among)}).all()
    return [Incident.from_row(row) for row in rows]


def open_of_groups(conn: Connection, groups: Collection[str]) -> list[Incident]:
    """The open incidents of these group keys, locked (a batch rewrites their counts)."""
    rows = conn.execute(_OPEN_OF_GROUPS, {"groups": sorted(groups)})
    return [Incident.from_row(row) for row in rows]


def lock_many(conn: Connection, ids: Collection[int]) -> list[Incident]:
    """These incidents, locked, by id."""
    if not ids:
        return []
    rows = conn.execute(
        select(_incidents)
        .where(_incidents.c.id.in_(sorted(ids)))
        .order_by(_incidents.c.id)
        .with_for_update()
    )
    return [Incident.from_row(row) for row in rows]


def insert_incident(conn: Connection, incident: Incident) -> Incident:
    """Store a new incident (its `id` is ignored); the stored one, with its id."""
    values = incident.columns() | {
        "group_key": incident.group_key,
        "system": incident.system,
        "customer": incident.customer,
        "unrouted": incident.unrouted,
        "opened_at": incident.opened_at,
        "rules_version": incident.rules_version,
    }
    new_id = conn.execute(insert(_incidents).returning(_incidents.c.id), values).scalar_one()
    return incident.with_changes(id=new_id)


def save(conn: Connection, before: Incident, after: Incident) -> None:
    """Write the columns `after` changed from `before` (nothing when none did)."""
    old, new = before.columns(), after.columns()
    changed = {key: value for key, value in new.items() if old[key] != value}
    if changed:
        conn.execute(_SET, {"incident": after.id, **changed})


def save_counts(conn: Connection, incidents: Sequence[Incident]) -> None:
    """Write a batch's counts, severities (with the summary of the alert that set each) and
    flags in one statement (the ingest hot path)."""
    if incidents:
        rows = [
            {
                "incident": i.id,
                "count": i.alert_count,
                "level": i.severity,
                "text": i.summary,
                "new_flags": i.flags.to_json(),
            }
            for i in incidents
        ]
        conn.execute(_SAVE_COUNTS, rows)


def record(conn: Connection, incident_id: int, at: datetime, events: Iterable[Event]) -> None:
    """Append events to an incident's timeline."""
    rows = [
        {
            "incident_id": incident_id,
            "at": at,
            "kind": str(event.kind),
            "actor": event.actor,
            "channel": event.channel,
            "note": event.note,
        }
        for event in events
    ]
    if rows:
        conn.execute(insert(_events), rows)


def add_note(
    conn: Connection, incident_id: int, event: Event, *, visibility: str, at: datetime
) -> int:
    """Append a note event with its visibility; returns the event's id."""
    event_id: int = conn.execute(
        insert(_events).returning(_events.c.id),
        {
            "incident_id": incident_id,
            "at": at,
            "kind": EventKind.NOTE.value,
            "actor": event.actor,
            "channel": event.channel,
            "note": event.note,
        },
    ).scalar_one()
    conn.execute(insert(_visibility), {"event_id": event_id, "visibility": visibility})
    return event_id


def acked_load(conn: Connection) -> dict[str, int]:
    """Engineer → open incidents they have acknowledged (ranking's tie-break)."""
    result = conn.execute(
        select(_incidents.c.acknowledged_by, func.count())
        .where(
            _incidents.c.state == IncidentState.ACKNOWLEDGED.value,
            _incidents.c.acknowledged_by.is_not(None),
        )
        .group_by(_incidents.c.acknowledged_by)
    )
    return dict(result.all())


def open_by_system(conn: Connection, systems: Collection[str]) -> dict[str, int]:
    """System → id of one of its open incidents, for these systems."""
    rows = conn.execute(
        select(_incidents.c.id, _incidents.c.system).where(
            _incidents.c.system.in_(list(systems)),
            _incidents.c.state != IncidentState.RESOLVED.value,
        )
    ).all()
    return {row.system: row.id for row in rows}


def previous_of_key(conn: Connection, source: str, dedup_key: str) -> Incident | None:
    """The resolved incident this alert key's latest cycle belonged to, if any."""
    row = conn.execute(
        select(_incidents)
        .join(_alerts, _alerts.c.incident_id == _incidents.c.id)
        .where(
            _alerts.c.source == source,
            _alerts.c.dedup_key == dedup_key,
            _incidents.c.state == IncidentState.RESOLVED.value,
        )
        .order_by(_alerts.c.id.desc())
        .limit(1)
    ).first()
    return Incident.from_row(row) if row is not None else None


def waiting_without_action(conn: Connection) -> list[Incident]:
    """Triggered incidents with no next action (suppressed ones among them), locked."""
    rows = conn.execute(
        select(_incidents)
        .where(
            _incidents.c.state == IncidentState.TRIGGERED.value,
            _incidents.c.next_action_at.is_(None),
        )
        .order_by(_incidents.c.id)
        .with_for_update()
    )
    return [Incident.from_row(row) for row in rows]


def held_later(conn: Connection, now: datetime) -> list[Incident]:
    """Triggered incidents whose next action lies after `now` (held ones among them)."""
    rows = conn.execute(
        select(_incidents).where(
            _incidents.c.state == IncidentState.TRIGGERED.value,
            _incidents.c.next_action_at > now,
        )
    )
    return [Incident.from_row(row) for row in rows]


def make_due(conn: Connection, ids: Collection[int], now: datetime) -> None:
    """Bring these incidents' next action forward to `now`."""
    if ids:
        conn.execute(
            update(_incidents).where(_incidents.c.id.in_(sorted(ids))).values(next_action_at=now)
        )


def move_on_now(conn: Connection, incident_id: int, cycle: int, now: datetime) -> None:
    """Let the ladder take its next step now, if the incident is still triggered at `cycle`
    and that step lies ahead (nobody acted since the page that failed)."""
    conn.execute(
        update(_incidents)
        .where(
            _incidents.c.id == incident_id,
            _incidents.c.state == IncidentState.TRIGGERED.value,
            _incidents.c.cycle == cycle,
            _incidents.c.next_action_at > now,
        )
        .values(next_action_at=now)
    )


def open_paged_to(conn: Connection, engineer: str) -> list[int]:
    """Open incidents this engineer has been paged for, oldest first."""
    paged = select(_pages.c.incident_id).where(_pages.c.engineer == engineer)
    return list(
        conn.execute(
            select(_incidents.c.id)
            .where(_incidents.c.state.in_(_OPEN), _incidents.c.id.in_(paged))
            .order_by(_incidents.c.id)
        ).scalars()
    )


def exists(conn: Connection, incident_id: int) -> bool:
    """Whether there is such an incident."""
    found = conn.execute(select(_incidents.c.id).where(_incidents.c.id == incident_id)).first()
    return found is not None
