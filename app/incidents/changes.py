"""Change events: a change (a deploy, a config push: PagerDuty's `send_change_event`) is routed
like an alert to find its system and stored there (store/change_events.py); it never pages."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from app.ingest.pagerduty import SOURCE, ChangeEvent
from app.routing.decision import system_of
from app.routing.matcher import match_view
from app.routing.rules import Rules
from app.store import change_events


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
    change_events.insert_change(
        conn,
        at=change.at or now,
        system=system,
        customer=customer,
        summary=change.summary,
        source=change.source,
        links=change.links,
    )
    return system
