"""The `heartbeats` table: one row per heartbeat name, its last beat and its alert's state.

Functions run inside the caller's transaction and are safe to repeat: rows are created with
insert-or-ignore and state changes are conditional updates, so replicas and restarts agree.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from app.heartbeats.specs import HeartbeatSpec
from app.store.tables import Base
from app.store.upsert import insert_ignore

OK = "ok"
LATE = "late"
_heartbeats = Base.metadata.tables["heartbeats"]


def watched(conn: Connection, specs: Mapping[str, HeartbeatSpec], now: datetime) -> list[Any]:
    """Every heartbeat row, after creating those of heartbeats new to the rules."""
    rows = list(conn.execute(select(_heartbeats)).all())
    known = {row.name for row in rows}
    missing = [_new_row(spec, now, beat=False) for name, spec in specs.items() if name not in known]
    if not missing:
        return rows
    insert_ignore(conn, _heartbeats, missing)
    return list(conn.execute(select(_heartbeats)).all())


def record_beat(conn: Connection, spec: HeartbeatSpec, now: datetime) -> str:
    """Store a beat of `spec`; returns the state the heartbeat was in before it."""
    if insert_ignore(conn, _heartbeats, [_new_row(spec, now, beat=True)]):
        return OK
    state: str = conn.execute(
        select(_heartbeats.c.state).where(_heartbeats.c.name == spec.name)
    ).scalar_one()
    conn.execute(
        update(_heartbeats)
        .where(_heartbeats.c.name == spec.name)
        .values(last_beat_at=now, system=spec.system)
    )
    return state


def mark(conn: Connection, name: str, *, state: str, now: datetime) -> bool:
    """Move a heartbeat to `state` (late or ok); False when it already was there."""
    other = OK if state == LATE else LATE
    result = conn.execute(
        update(_heartbeats)
        .where(_heartbeats.c.name == name, _heartbeats.c.state == other)
        .values(state=state, late_at=now if state == LATE else None)
    )
    return bool(result.rowcount)


def forget(conn: Connection, names: Iterable[str]) -> None:
    """Drop the rows of heartbeats no longer in the rules."""
    chosen: Sequence[str] = list(names)
    if chosen:
        conn.execute(delete(_heartbeats).where(_heartbeats.c.name.in_(chosen)))


def _new_row(spec: HeartbeatSpec, now: datetime, *, beat: bool) -> dict[str, Any]:
    return {
        "name": spec.name,
        "system": spec.system,
        "state": OK,
        "last_beat_at": now if beat else None,
        "watched_since": now,
        "late_at": None,
    }
