"""The moments a person types for `route --at`: ISO 8601, `now`, `+8h`, `tomorrow 03:00`,
`sat 14:00`. Times without an offset are wall-clock times in a given zone (the lead's)."""

import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.routing.timespec import DAY_NAMES, local_instant, parse_duration

FORMS = (
    "now, +8h, +30m, +1d2h, today 14:00, tomorrow 03:00, sat 14:00, 14:00, "
    "or ISO 8601 (2026-11-25T14:00+01:00; without an offset: the lead's time zone)"
)
_RELATIVE = re.compile(r"([+-])\s*(\S+)")
_DAY_AT = re.compile(r"(?:(?P<day>[a-z]+)\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})")
_WEEKDAYS = {
    **{name.lower(): index for index, name in enumerate(DAY_NAMES)},
    **{
        name: index
        for index, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}


@dataclass(frozen=True, slots=True)
class Moment:
    """A parsed moment (aware) and, when a zone was assumed, a sentence saying which."""

    at: datetime
    assumed_zone: str | None = None


def parse_moment(text: str, now: datetime, tz: ZoneInfo) -> Moment:
    """The instant `text` names, relative to `now`; ValueError naming the accepted forms."""
    spec = " ".join(text.strip().lower().split())
    if spec == "now":
        return Moment(now)
    relative = _RELATIVE.fullmatch(spec)
    if relative:
        try:
            delta = parse_duration(relative[2])
        except ValueError:
            raise _unknown(text) from None
        return Moment(now + delta if relative[1] == "+" else now - delta)
    day_at = _DAY_AT.fullmatch(spec)
    if day_at:
        return Moment(_day_at(day_at, text, now, tz), str(tz))
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _unknown(text) from None
    if parsed.tzinfo is not None:
        return Moment(parsed)
    return Moment(local_instant(parsed.date(), parsed.time(), tz), str(tz))


def _day_at(match: re.Match[str], text: str, now: datetime, tz: ZoneInfo) -> datetime:
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(f"invalid time of day in {text!r}")
    at = time(hour, minute)
    today = now.astimezone(tz).date()
    word = match["day"]
    if word in ("today", "tomorrow"):
        return local_instant(today + timedelta(days=word == "tomorrow"), at, tz)
    if word is None:  # a bare time: its next occurrence
        return _next(today, at, tz, now, days=range(7))
    weekday = _WEEKDAYS.get(word)
    if weekday is None:
        raise _unknown(text)
    return _next(today, at, tz, now, days=[weekday])


def _next(today: date, at: time, tz: ZoneInfo, now: datetime, days: Container[int]) -> datetime:
    """The first `at` on one of `days` (weekday numbers) that is not before `now`."""
    for offset in range(8):
        day = today + timedelta(days=offset)
        moment = local_instant(day, at, tz)
        if day.weekday() in days and moment >= now:
            return moment
    raise AssertionError("unreachable: every weekday occurs within 8 days")


def _unknown(text: str) -> ValueError:
    return ValueError(f"cannot read {text!r} as a time; use {FORMS}")
