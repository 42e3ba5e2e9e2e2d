"""Resolved notes: whoever was paged for an incident hears that it is over.

SMS get a short note (through the outbox, so the throttle applies); a Slack page's message is
updated in place instead of a second DM.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.escalation.tick import unhealthy_channels, view_of
from app.paging.base import PageKind
from app.paging.outbox import enqueue
from app.paging.requests import page_requests
from app.routing.rules import Rules
from app.store.tables import Base

_pages = Base.metadata.tables["pages"]
_incidents = Base.metadata.tables["incidents"]
_PAGED = (PageKind.PAGE.value, PageKind.BUNDLE.value)


def notify_resolved(
    conn: Connection, incident_id: int, *, rules: Rules, now: datetime, public_url: str
) -> int:
    """Queue a resolved note for every engineer who was paged; returns how many rows."""
    paged = (
        conn.execute(
            select(_pages.c.engineer)
            .where(
                _pages.c.incident_id == incident_id,
                _pages.c.kind.in_(_PAGED),
                _pages.c.status.in_(("sent", "delivered")),
            )
            .distinct()
        )
        .scalars()
        .all()
    )
    if not paged:
        return 0
    incident = conn.execute(select(_incidents).where(_incidents.c.id == incident_id)).one()
    rows = page_requests(
        rules,
        view_of(conn, incident),
        sorted(paged),
        kind=PageKind.RESOLVED_NOTE,
        position=(incident.cycle, 0, 0),
        public_url=public_url,
        unhealthy=unhealthy_channels(conn),
    )
    messages = slack_messages(conn, incident_id)
    rows = [
        row.amended(update=messages[row.engineer])
        if row.channel == "slack" and row.engineer in messages
        else row
        for row in rows
    ]
    return len(enqueue(conn, rows, now=now))


def slack_messages(conn: Connection, incident_id: int) -> dict[str, str]:
    """Engineer → "channel:ts" of the latest Slack page message they got for an incident."""
    found = conn.execute(
        select(_pages.c.engineer, _pages.c.provider_id)
        .where(
            _pages.c.incident_id == incident_id,
            _pages.c.channel == "slack",
            _pages.c.kind.in_(_PAGED),
            _pages.c.provider_id.is_not(None),
        )
        .order_by(_pages.c.id)
    ).all()
    return {row.engineer: row.provider_id for row in found}
