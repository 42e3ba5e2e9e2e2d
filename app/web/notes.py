"""Notes on an incident: timeline events of kind "note", each internal or shared."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from app.errors import NotFound
from app.store.tables import Base

_events = Base.metadata.tables["incident_events"]
_incidents = Base.metadata.tables["incidents"]
_visibility = Base.metadata.tables["note_visibility"]
MAX_NOTE = 4000


class Visibility(StrEnum):
    """Who reads a note: the team only, or the incident's customer too."""

    INTERNAL = "internal"
    SHARED = "shared"


def add_note(
    conn: Connection,
    incident_id: int,
    *,
    author: str,
    text: str,
    visibility: Visibility,
    now: datetime,
) -> int:
    """Append a note to an incident's timeline; returns the event id."""
    if conn.execute(select(_incidents.c.id).where(_incidents.c.id == incident_id)).first() is None:
        raise NotFound(f"no incident {incident_id}")
    event_id: int = conn.execute(
        insert(_events).returning(_events.c.id),
        {
            "incident_id": incident_id,
            "at": now,
            "kind": "note",
            "actor": author,
            "channel": "web",
            "note": text[:MAX_NOTE],
        },
    ).scalar_one()
    conn.execute(insert(_visibility), {"event_id": event_id, "visibility": visibility.value})
    return event_id
