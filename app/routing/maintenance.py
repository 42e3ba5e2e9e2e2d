"""Maintenance windows: one-off or weekly recurring, in a time zone, expanded to UTC instants.

A recurring window starts at the same wall-clock time every week, so its UTC start moves when
DST changes; its `duration` is elapsed time.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.routing.rules import Rules
from app.routing.schema import Maintenance
from app.routing.timespec import local_instant, zone


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """One occurrence of a maintenance entry, in UTC."""

    system: str | None
    customer: str | None
    start_at: datetime
    end_at: datetime

    def applies_to(self, system: str | None, customer: str | None) -> bool:
        """Whether the window covers alerts of `system` (owned by `customer`)."""
        if self.system is not None and self.system != system:
            return False
        return self.customer is None or self.customer == customer


def maintenance_windows(rules: Rules, start: datetime, end: datetime) -> list[MaintenanceWindow]:
    """Every window overlapping [start, end), sorted by start."""
    windows = [
        MaintenanceWindow(entry.system, entry.customer, begin, finish)
        for entry in rules.maintenance
        for begin, finish in _occurrences(entry, start.astimezone(UTC), end.astimezone(UTC))
    ]
    return sorted(windows, key=lambda w: (w.start_at, w.end_at, w.system or "", w.customer or ""))


def in_maintenance(rules: Rules, system: str | None, customer: str | None, now: datetime) -> bool:
    """Whether an alert of `system` / `customer` at `now` falls in a maintenance window."""
    windows = maintenance_windows(rules, now, now + timedelta(microseconds=1))
    return any(window.applies_to(system, customer) for window in windows)


def _occurrences(
    entry: Maintenance, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    tz = zone(entry.timezone)
    if entry.start is not None and entry.end is not None:
        begin = entry.start.replace(tzinfo=tz).astimezone(UTC)
        finish = entry.end.replace(tzinfo=tz).astimezone(UTC)
        if begin < end and finish > start:
            yield begin, finish
        return
    if entry.every is None or entry.duration is None:
        return
    days, at = entry.every
    # Start early enough to catch an occurrence that began before `start` and is still running.
    day = (start - entry.duration).astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        if day.weekday() in days:
            begin = local_instant(day, at, tz)
            if begin < end and begin + entry.duration > start:
                yield begin, begin + entry.duration
        day += timedelta(days=1)
