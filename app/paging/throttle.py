"""Per-engineer SMS throttle (GoAlert's lesson: carriers block numbers that send too much).

Pure: given the times SMS were sent to one engineer, say when the next one may go.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SmsThrottle:
    """At most one SMS per `min_interval` and `per_window` per 15 minutes; 0 turns a rule off."""

    min_interval: timedelta
    per_window: int

    def next_allowed(self, sent_at: Sequence[datetime], now: datetime) -> datetime:
        """The earliest time (now or later) another SMS may go, given earlier sends."""
        allowed = now
        if sent_at and self.min_interval > timedelta(0):
            allowed = max(allowed, max(sent_at) + self.min_interval)
        recent = sorted(t for t in sent_at if t > now - WINDOW)
        if self.per_window > 0 and len(recent) >= self.per_window:
            # The oldest send that keeps the window full must age out first.
            allowed = max(allowed, recent[len(recent) - self.per_window] + WINDOW)
        return allowed

    @classmethod
    def off(cls) -> "SmsThrottle":
        """No limits (test pages and tools)."""
        return cls(timedelta(0), 0)
