"""Flapping, Alerta-style: an alert key that changes state more than `flap.changes` times
within `flap.window`.

The history is the key's alert rows themselves: each row is one firing cycle, so its
`first_seen_at` is a change to firing and its `ended_at` a change to resolved. Nothing extra
is written on the ingest path; the history is read only when a key reopens its incident.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.store.tables import Base

_alerts = Base.metadata.tables["alerts"]


def state_changes(conn: Connection, source: str, dedup_key: str, *, since: datetime) -> int:
    """How often the key started firing or resolved at or after `since`."""
    rows = conn.execute(
        select(_alerts.c.first_seen_at, _alerts.c.ended_at, _alerts.c.status).where(
            _alerts.c.source == source,
            _alerts.c.dedup_key == dedup_key,
            or_(_alerts.c.first_seen_at >= since, _alerts.c.ended_at >= since),
        )
    ).all()
    fired = sum(1 for row in rows if as_utc(row.first_seen_at) >= since)
    resolved = sum(
        1
        for row in rows
        if row.status == "resolved" and row.ended_at is not None and as_utc(row.ended_at) >= since
    )
    return fired + resolved


def last_change_at(conn: Connection, incident_id: int, keys: Sequence[str]) -> datetime | None:
    """The latest state change of the incident's rows of `keys`."""
    row = conn.execute(
        select(func.max(_alerts.c.first_seen_at), func.max(_alerts.c.ended_at)).where(
            _alerts.c.incident_id == incident_id, _alerts.c.dedup_key.in_(list(keys))
        )
    ).one()
    moments = [as_utc(moment) for moment in row if moment is not None]
    return max(moments, default=None)
