"""Change events: the only code that writes `change_events`, and the query that finds those an
incident should show.

A change (a deploy, a config push: PagerDuty's `send_change_event`) is routed like an alert to
find its system, stored, and never pages. An incident shows the changes of its system from
`WINDOW` before it opened to `WINDOW` after, at most `LIMIT` of them, newest first, so "what
changed just before this broke" is on the incident itself.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.engine import Connection

from app.ingest.pagerduty import SOURCE, ChangeEvent
from app.routing.decision import system_of
from app.routing.matcher import match_view
from app.routing.rules import Rules
from app.store.tables import Base
from app.store.tables import ChangeEvent as ChangeRow

WINDOW = timedelta(hours=6)
LIMIT = 20
KEEP = timedelta(days=90)  # as long as PagerDuty keeps them; pruned with the raw events
_changes = Base.metadata.tables["change_events"]


@dataclass(frozen=True, slots=True)
class _Routable:
    """A change in the shape routing reads (an info alert without a key)."""

    labels: dict[str, str]
    source: str = SOURCE
    dedup_key: str = ""
    severity: str = "info"


def record(conn: Connection, change: ChangeEvent, rules: Rules, now: datetime) -> str | None:
    """Store a change on the system its labels match; returns that system (None: none did)."""
    routable = _Routable(change.labels)
    system = system_of(rules, routable, match_view(routable, routable.severity))
    customer = rules.systems[system].customer if system else change.labels.get("customer")
    conn.execute(
        insert(_changes),
        {
            "at": change.at or now,
            "system": system,
            "customer": customer,
            "summary": change.summary,
            "source": change.source,
            "links": change.links,
        },
    )
    return system


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
