"""`depends_on`: which systems a system relies on, transitively, and which of them is down.

While an upstream system has an open incident, new incidents of its dependents are recorded as
suppressed and page no one; `release.py` pages them once the upstream incident resolves.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.routing.rules import Rules
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]


@dataclass(frozen=True, slots=True)
class Upstream:
    """An open incident of a system another one depends on."""

    id: int
    system: str


def upstream_systems(rules: Rules, system: str | None) -> list[str]:
    """Every system `system` depends on, nearest first (breadth first; cycles are cut)."""
    if system is None or system not in rules.systems:
        return []
    found: list[str] = []
    queue = list(rules.systems[system].depends_on)
    while queue:
        name = queue.pop(0)
        if name == system or name in found:
            continue
        found.append(name)
        if name in rules.systems:
            queue.extend(rules.systems[name].depends_on)
    return found


def open_upstream(conn: Connection, rules: Rules, system: str | None) -> Upstream | None:
    """The nearest upstream system's open incident, or None (no query without `depends_on`)."""
    upstream = upstream_systems(rules, system)
    if not upstream:
        return None
    rows = conn.execute(
        select(_incidents.c.id, _incidents.c.system).where(
            _incidents.c.system.in_(upstream), _incidents.c.state != "resolved"
        )
    ).all()
    open_by_system = {row.system: row.id for row in rows}
    nearest = next((name for name in upstream if name in open_by_system), None)
    return None if nearest is None else Upstream(open_by_system[nearest], nearest)
