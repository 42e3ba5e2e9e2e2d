"""Who is reachable per system over the coming days: gaps, bus factor 1, maintenance ahead.

Exact, not sampled: reachability only changes at a working-hours edge or a local midnight (away
days), so we evaluate the ranking once per such instant and merge equal neighbours into gaps.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from app.routing.checks import single_holders
from app.routing.maintenance import MaintenanceWindow, maintenance_windows
from app.routing.ranking import rank
from app.routing.rules import Rules
from app.routing.schema import Engineer, NotifyMode
from app.routing.timespec import local_instant


@dataclass(frozen=True, slots=True)
class Gap:
    """A time range in UTC."""

    start_at: datetime
    end_at: datetime

    @property
    def hours(self) -> float:
        """Length in hours."""
        return (self.end_at - self.start_at).total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class SystemCoverage:
    """Gaps of one system: `always` severities page nobody able (only the lead step) during
    `nobody_present`; `working-hours` severities wait during `nobody_in_hours`."""

    system: str
    always: tuple[str, ...]
    working_hours: tuple[str, ...]
    nobody_present: tuple[Gap, ...]
    nobody_in_hours: tuple[Gap, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    """The coverage report over [start_at, end_at)."""

    start_at: datetime
    end_at: datetime
    systems: tuple[SystemCoverage, ...]
    single_holders: dict[str, str]  # skill → the one engineer at level ≥ min_level
    maintenance: tuple[MaintenanceWindow, ...]


def coverage(rules: Rules, start: datetime, days: int = 7) -> Coverage:
    """Coverage of every system from `start` for `days` days."""
    start = start.astimezone(UTC)
    end = start + timedelta(days=days)
    instants = _edges(rules.engineers.values(), start, end)
    return Coverage(
        start_at=start,
        end_at=end,
        systems=tuple(_system(rules, name, instants, end) for name in rules.systems),
        single_holders=single_holders(rules),
        maintenance=tuple(maintenance_windows(rules, start, end)),
    )


def _system(rules: Rules, name: str, instants: Sequence[datetime], end: datetime) -> SystemCoverage:
    policy = rules.policy_for(name)
    notify = policy.notify
    modes = {
        severity: NotifyMode(getattr(notify, severity)) for severity in type(notify).model_fields
    }
    absent, asleep = [], []
    for instant in instants:
        ordered = rank(rules, name, instant, {}, policy.min_level).ordered
        absent.append(not ordered)
        asleep.append(not any(candidate.in_hours for candidate in ordered))
    always = tuple(s for s, mode in modes.items() if mode is NotifyMode.ALWAYS)
    working = tuple(s for s, mode in modes.items() if mode is NotifyMode.WORKING_HOURS)
    return SystemCoverage(
        system=name,
        always=always,
        working_hours=working,
        nobody_present=_gaps(instants, absent, end) if always else (),
        nobody_in_hours=_gaps(instants, asleep, end) if working else (),
    )


def _gaps(instants: Sequence[datetime], flags: Sequence[bool], end: datetime) -> tuple[Gap, ...]:
    gaps: list[Gap] = []
    bounds = [*instants[1:], end]
    for begin, finish, flag in zip(instants, bounds, flags, strict=True):
        if not flag:
            continue
        if gaps and gaps[-1].end_at == begin:
            gaps[-1] = Gap(gaps[-1].start_at, finish)
        else:
            gaps.append(Gap(begin, finish))
    return tuple(gaps)


def _edges(engineers: Iterable[Engineer], start: datetime, end: datetime) -> list[datetime]:
    """`start` plus every instant in (start, end) where someone's hours or away may change."""
    edges = {start}
    for engineer in engineers:
        tz = engineer.tz
        day = start.astimezone(tz).date() - timedelta(days=1)
        while day <= end.astimezone(tz).date():
            edges.add(local_instant(day, time(0), tz))
            for window in engineer.hours or ():
                if day.weekday() in window.days:
                    edges.update(window.span(day, tz))
            day += timedelta(days=1)
    return sorted(edge for edge in edges if start <= edge < end)
