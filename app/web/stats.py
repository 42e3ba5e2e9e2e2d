"""History numbers, pure: times to acknowledge and resolve, and who is woken by pages."""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.clock import as_utc
from app.projection import IncidentView
from app.routing.rules import Rules
from app.routing.timespec import minute_of_week
from app.store.tables import Incident

NIGHT_START, NIGHT_END = 22, 7  # local hours: 22:00-07:00 counts as night


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (share 0.5 = median), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from start to end, None when either is missing."""
    if start is None or end is None:
        return None
    return (as_utc(end) - as_utc(start)).total_seconds()


@dataclass(slots=True)
class Figures:
    """Count and time figures of one group (a customer or a system)."""

    name: str
    count: int = 0
    tta: list[float] = field(default_factory=list)
    ttr: list[float] = field(default_factory=list)

    def add(self, incident: Incident | IncidentView) -> None:
        """Count one resolved incident."""
        self.count += 1
        tta = seconds_between(incident.opened_at, incident.acknowledged_at)
        ttr = seconds_between(incident.opened_at, incident.resolved_at)
        if tta is not None:
            self.tta.append(tta)
        if ttr is not None:
            self.ttr.append(ttr)

    @property
    def row(self) -> tuple[float | None, float | None, float | None, float | None]:
        """(TTA median, TTA p90, TTR median, TTR p90) in seconds."""
        return (
            percentile(self.tta, 0.5),
            percentile(self.tta, 0.9),
            percentile(self.ttr, 0.5),
            percentile(self.ttr, 0.9),
        )


def figures_by(incidents: Iterable[Incident | IncidentView], key: str) -> list[Figures]:
    """Figures per value of `key` ("customer" or "system"), by name."""
    groups: dict[str, Figures] = {}
    for incident in incidents:
        name = getattr(incident, key) or "—"
        groups.setdefault(name, Figures(name)).add(incident)
    return [groups[name] for name in sorted(groups)]


@dataclass(slots=True)
class Wakeups:
    """Pages one engineer received, by the engineer's local time."""

    engineer: str
    working: int = 0
    off_hours: int = 0
    night: int = 0

    @property
    def total(self) -> int:
        """All pages."""
        return self.working + self.off_hours + self.night


def page_split(rules: Rules, pages: Iterable[tuple[str, datetime]]) -> list[Wakeups]:
    """Pages per engineer split into working hours, off hours and night (22-07 local)."""
    counts: dict[str, Wakeups] = {}
    schedules = rules.compiled.schedules
    for engineer, sent_at in pages:
        entry = counts.setdefault(engineer, Wakeups(engineer))
        schedule = schedules.get(engineer)
        local = as_utc(sent_at).astimezone(schedule.tz) if schedule else as_utc(sent_at)
        if local.hour >= NIGHT_START or local.hour < NIGHT_END:
            entry.night += 1
        elif schedule is not None and (
            schedule.mask is None or schedule.mask[minute_of_week(local)]
        ):
            entry.working += 1
        else:
            entry.off_hours += 1
    return sorted(counts.values(), key=lambda w: (-w.night, -w.total, w.engineer))
