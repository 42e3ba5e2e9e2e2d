"""The only code that writes `change_events`, and the query that finds those an incident shows.

A change (a deploy, a config push: PagerDuty's `send_change_event`) is stored on the system its
labels matched (`incidents/changes.py` routes it) and never pages. An incident shows the changes
of its system from `WINDOW` before it opened to `WINDOW` after, at most `LIMIT` of them, newest
first, so "what changed just before this broke" is on the incident itself.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.engine import Connection

from app.store.tables import Base
from app.store.tables import ChangeEvent as ChangeRow

WINDOW = timedelta(hours=6)
LIMIT = 20
KEEP = timedelta(days=90)  # as long as PagerDuty keeps them; pruned with the raw events
_changes = Base.metadata.tables["change_events"]


def insert_change(conn: Connection, **values: Any) -> None:
    """Store one change (at, system, customer, summary, source, links)."""
    conn.execute(insert(_changes), values)


def near(system: str, at: datetime) -> Select[ChangeRow]:
    """The changes of `system` within WINDOW of `at`, newest first, at most LIMIT."""
    return (
        select(ChangeRow)
        .where(
            ChangeRow.system == system,
            ChangeRow.at >= at - WINDOW,
            ChangeRow.at <= at + WINDOW,
        )
        .order_by(ChangeRow.at.desc(), ChangeRow.id.desc())
        .limit(LIMIT)
    )


def prune(conn: Connection, *, before: datetime) -> int:
    """Forget the changes that happened before `before`; how many were forgotten."""
    return int(conn.execute(delete(_changes).where(_changes.c.at < before)).rowcount)
