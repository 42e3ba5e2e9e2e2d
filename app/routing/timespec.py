"""Time expressions of the rules: durations, working hours, day lists, away dates, local times.

All wall-clock arithmetic goes through zoneinfo, so DST changes are handled by the tz database:
"08:00" means 08:00 on the engineer's wall clock whatever the UTC offset is that day.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {
    **{name.lower(): index for index, name in enumerate(DAY_NAMES)},
    **{name: index for index, name in enumerate(_FULL_NAMES)},
}
_DURATION = re.compile(r"(?:(\d+)([smhd]))+")
_DURATION_PART = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HOURS = re.compile(r"(?P<days>.+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})")
_AT = re.compile(r"(?P<days>.+?)\s+(?P<at>\d{1,2}:\d{2})")
_DATE_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\s*\.\.\s*(\d{4}-\d{2}-\d{2}))?")
_MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * _MINUTES_PER_DAY


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The tz database zone `name`; ValueError if it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


def parse_duration(value: object) -> timedelta:
    """'30s', '5m', '1h', '1d' (or combined, '1h30m') → timedelta."""
    if isinstance(value, timedelta):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not _DURATION.fullmatch(text):
        raise ValueError(f"duration must look like 30s, 5m, 1h or 1d, got {value!r}")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


def parse_days(text: str) -> frozenset[int]:
    """'Mon-Fri', 'Mon,Wed', 'Sat', 'Fri-Mon' (wraps), 'daily' → weekday numbers (Mon = 0)."""
    days: set[int] = set()
    spec = text.strip().lower()
    if spec == "daily":
        return frozenset(range(7))
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        start, end = _day(first), _day(last or first)
        days.update((start + step) % 7 for step in range((end - start) % 7 + 1))
    return frozenset(days)


def _day(word: str) -> int:
    index = _DAY_INDEX.get(word.strip())
    if index is None:
        raise ValueError(f"unknown day {word.strip()!r} (use Mon, Tue, … Sun)")
    return index


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _minutes(text: str, *, allow_24: bool = False) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"invalid time of day {text!r}")
    return hours * 60 + minutes


@dataclass(frozen=True, slots=True)
class HoursWindow:
    """Working hours on some weekdays; `end <= start` means it ends on the next day."""

    days: frozenset[int]
    start: int  # minutes after local midnight
    end: int  # minutes after local midnight; 1440 allowed ("24:00")
    text: str

    def contains(self, local: datetime) -> bool:
        """Whether the local wall-clock time `local` falls in this window."""
        minute, weekday = local.hour * 60 + local.minute, local.weekday()
        if self.end > self.start:
            return weekday in self.days and self.start <= minute < self.end
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )

    def span(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """UTC open and close instants of this window when it opens on local `day`."""
        close_day = day + timedelta(days=1 if self.end <= self.start else self.end // 1440)
        return self.opens(day, tz), local_instant(close_day, _clock(self.end % 1440), tz)

    def opens(self, day: date, tz: ZoneInfo) -> datetime:
        """UTC instant this window opens on local `day`."""
        return local_instant(day, _clock(self.start), tz)


def minute_of_week(local: datetime) -> int:
    """Minutes since Monday 00:00 of the wall-clock time `local` (0 .. MINUTES_PER_WEEK - 1)."""
    return local.weekday() * _MINUTES_PER_DAY + local.hour * 60 + local.minute


@lru_cache(maxsize=1024)
def week_mask(windows: tuple[HoursWindow, ...]) -> bytes:
    """1 at every `minute_of_week` inside some window, else 0: one lookup instead of a loop.

    Same rule as `HoursWindow.contains`: a window runs from `start` on each of its days for
    `end - start` minutes, into the next day (Sunday wraps to Monday) when `end <= start`.
    """
    mask = bytearray(MINUTES_PER_WEEK)
    for window in windows:
        if window.end > window.start:
            length = window.end - window.start  # "24:00" gives the whole rest of the day
        else:
            length = _MINUTES_PER_DAY - window.start + window.end
        for day in window.days:
            first = day * _MINUTES_PER_DAY + window.start
            last = first + length
            mask[first : min(last, MINUTES_PER_WEEK)] = b"\x01" * (
                min(last, MINUTES_PER_WEEK) - first
            )
            if last > MINUTES_PER_WEEK:  # Sunday night into Monday morning
                mask[: last - MINUTES_PER_WEEK] = b"\x01" * (last - MINUTES_PER_WEEK)
    return bytes(mask)


def parse_hours(value: object) -> HoursWindow:
    """'Mon-Fri 08:00-17:00', 'Fri 22:00-02:00' (crosses midnight), 'Mon,Wed 09:00-12:00'."""
    match = _HOURS.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"hours must look like 'Mon-Fri 08:00-17:00', got {value!r}")
    start = _minutes(match["start"])
    end = _minutes(match["end"], allow_24=True)
    if start == end:
        raise ValueError(f"hours {value!r} are an empty range")
    return HoursWindow(parse_days(match["days"]), start, end, str(value).strip())


def parse_weekly(value: object) -> tuple[frozenset[int], time]:
    """'Sun 03:00', 'Mon-Fri 22:30', 'daily 04:00' → weekdays and a local time of day."""
    match = _AT.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"every must look like 'Sun 03:00', got {value!r}")
    return parse_days(match["days"]), _clock(_minutes(match["at"]))


@dataclass(frozen=True, slots=True)
class DateRange:
    """Inclusive calendar dates, read in the engineer's own time zone."""

    first: date
    last: date


def parse_date_range(value: object) -> DateRange:
    """'2026-12-21..2027-01-03' (inclusive) or a single day '2026-12-24'."""
    match = _DATE_RANGE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"away must look like '2026-12-21..2027-01-03', got {value!r}")
    first = date.fromisoformat(match[1])
    last = date.fromisoformat(match[2] or match[1])
    if last < first:
        raise ValueError(f"away range {value!r} ends before it starts")
    return DateRange(first, last)


def parse_local_datetime(value: object) -> datetime:
    """'2026-12-01 22:00' (or ISO with T / seconds), without offset: a naive wall-clock time."""
    if not isinstance(value, str):
        raise ValueError(f"expected a local time like '2026-12-01 22:00', got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"expected a local time like '2026-12-01 22:00', got {value!r}") from exc
    if parsed.tzinfo is not None:
        raise ValueError(f"give a wall-clock time and a timezone key, not an offset: {value!r}")
    return parsed


def in_hours(windows: tuple[HoursWindow, ...] | None, tz: ZoneInfo, now: datetime) -> bool:
    """Whether `now` is inside any window (no windows given = always in hours)."""
    if windows is None:
        return True
    local = now.astimezone(tz)
    return any(window.contains(local) for window in windows)


def next_start(windows: tuple[HoursWindow, ...], tz: ZoneInfo, now: datetime) -> datetime | None:
    """Earliest start of a window strictly after `now`, in UTC (DST-correct), within 8 days."""
    today = now.astimezone(tz).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        starts = [w.opens(day, tz) for w in windows if day.weekday() in w.days]
        upcoming = [start for start in starts if start > now]
        if upcoming:  # a later local day can only start later
            return min(upcoming)
    return None


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `day at` in `tz`; a time skipped by DST moves forward."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def local_label(local: datetime) -> str:
    """'Tue 02:14 Europe/Stockholm' for a datetime in a ZoneInfo zone."""
    return f"{DAY_NAMES[local.weekday()]} {local.hour:02d}:{local.minute:02d} {local.tzinfo}"


def away_until(ranges: tuple[DateRange, ...], today: date) -> date | None:
    """Last away day of the absence covering `today` (back-to-back ranges join), else None."""
    last: date | None = None
    for _ in range(len(ranges)):  # each pass can only extend through one more range
        day = today if last is None else last + timedelta(days=1)
        covering = [r.last for r in ranges if r.first <= day <= r.last]
        if not covering:
            break
        last = max(covering)
    return last
