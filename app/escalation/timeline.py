"""The incident timeline: every state change and note as an event row."""

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store.tables import Base

_events = Base.metadata.tables["incident_events"]


async def record_event(
    conn: AsyncConnection,
    incident_id: int,
    at: datetime,
    *,
    kind: str,
    actor: str | None = None,
    channel: str | None = None,
    note: str | None = None,
) -> None:
    """Append one event (who, via which channel, when, note) to an incident's timeline."""
    await conn.execute(
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
