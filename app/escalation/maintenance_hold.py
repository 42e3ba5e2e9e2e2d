"""Maintenance windows as holds: an incident opened inside one pages when the window ends."""

from datetime import datetime, timedelta

from app.routing.maintenance import maintenance_windows
from app.routing.rules import Rules

_INSTANT = timedelta(microseconds=1)


def maintenance_end(
    rules: Rules, system: str | None, customer: str | None, now: datetime
) -> datetime | None:
    """The end of the latest window covering `system` / `customer` at `now`, or None."""
    if not rules.maintenance:
        return None
    windows = maintenance_windows(rules, now, now + _INSTANT)
    ends = [w.end_at for w in windows if w.applies_to(system, customer) and w.end_at > now]
    return max(ends, default=None)
