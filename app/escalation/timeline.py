"""The incident timeline: every state change and note as an event row."""

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from app.store.tables import Base

_events = Base.metadata.tables["incident_events"]


def record_event(
    conn: Connection,
    incident_id: int,
    at: datetime,
    *,
    kind: str,
    actor: str | None = None,
    channel: str | None = None,
    note: str | None = None,
) -> None:
    """Append one event (who, via which channel, when, note) to an incident's timeline."""
    conn.execute(
        insert(_events),
        {
            "incident_id": incident_id,
            "at": at,
            "kind": kind,
            "actor": actor,
            "channel": channel,
            "note": note,
        },
    )
