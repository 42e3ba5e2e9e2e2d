"""The three rules files as frozen pydantic models: every key of ARCHITECTURE §3, no others.

Field validators turn the human notations (durations, hours, dates, zones) into values once, at
load time; unknown keys are rejected so a typo can never silently change who gets paged.
"""

import re
from datetime import datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    model_validator,
)

from app.routing.timespec import (
    DateRange,
    HoursWindow,
    parse_date_range,
    parse_duration,
    parse_hours,
    parse_local_datetime,
    parse_weekly,
    zone,
)

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _some_hours(value: tuple[HoursWindow, ...] | None) -> tuple[HoursWindow, ...] | None:
    if value == ():
        raise ValueError("give at least one hours range, or leave hours out (always in hours)")
    return value


def _positive_duration(value: object) -> timedelta:
    parsed = parse_duration(value)
    if parsed <= timedelta(0):
        raise ValueError(f"duration must be more than 0, got {value!r}")
    return parsed


def _level(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(f"skill level must be a whole number 1..5, got {value!r}")
    return value


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number ≥ 0, got {value!r}")
    return value


def _timezone(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"timezone must be an IANA name like Europe/Stockholm, got {value!r}")
    zone(value)
    return value


def _phone(value: object) -> str:
    if isinstance(value, int):
        raise ValueError('phone must be a quoted string, e.g. "+46701112233"')
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise ValueError(f"phone must be E.164 like +46701112233, got {value!r}")
    return value


def _slack_id(value: object) -> str:
    if not isinstance(value, str) or not _SLACK_ID.fullmatch(value):
        raise ValueError(f"slack must be a Slack member id like U01ANNA, got {value!r}")
    return value


def _pattern(value: object) -> str:
    # Plain YAML numbers (`code: 500`) are meant as the label text "500".
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise ValueError(f"match values must be strings (regexes), got {value!r}")
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"invalid regex {text!r}: {exc}") from exc
    return text


Duration = Annotated[timedelta, PlainValidator(parse_duration)]
PositiveDuration = Annotated[timedelta, PlainValidator(_positive_duration)]
Level = Annotated[int, PlainValidator(_level)]
Count = Annotated[int, PlainValidator(_count)]
ZoneName = Annotated[str, PlainValidator(_timezone)]
Hours = Annotated[HoursWindow, PlainValidator(parse_hours)]
Away = Annotated[DateRange, PlainValidator(parse_date_range)]
LocalTime = Annotated[datetime, PlainValidator(parse_local_datetime)]
Weekly = Annotated[tuple[frozenset[int], time], PlainValidator(parse_weekly)]
Pattern = Annotated[str, PlainValidator(_pattern)]


class Channel(StrEnum):
    """How a page reaches an engineer."""

    SMS = "sms"
    SLACK = "slack"
    VOICE = "voice"


class Engineer(_Model):
    """One team member (team.yaml `engineers.<id>`)."""

    name: str | None = None
    phone: Annotated[str, PlainValidator(_phone)] | None = None
    slack: Annotated[str, PlainValidator(_slack_id)] | None = None
    timezone: ZoneName = "UTC"
    hours: Annotated[
        tuple[Hours, ...] | None, BeforeValidator(_as_list), AfterValidator(_some_hours)
    ] = None
    away: Annotated[tuple[Away, ...], BeforeValidator(_as_list)] = ()
    channels: tuple[Channel, ...] | None = None
    skills: dict[str, Level] = Field(default_factory=dict)

    @cached_property
    def tz(self) -> ZoneInfo:
        """The engineer's time zone."""
        return zone(self.timezone)

    @property
    def paging_channels(self) -> tuple[Channel, ...]:
        """Channels used at once for every page: `channels`, else sms (+ slack if given)."""
        if self.channels is not None:
            return self.channels
        default = (Channel.SMS,) if self.phone else ()
        return (*default, Channel.SLACK) if self.slack else default


class TeamFile(_Model):
    """team.yaml."""

    lead: str
    engineers: dict[str, Engineer]


class Step(StrEnum):
    """One rung of the escalation ladder."""

    FIRST = "first"
    NEXT = "next"
    ALL = "all"
    LEAD = "lead"


class NotifyMode(StrEnum):
    """When a severity pages."""

    ALWAYS = "always"
    WORKING_HOURS = "working-hours"
    NEVER = "never"


class Notify(_Model):
    """policy.yaml `notify`: mode per normalised severity."""

    critical: NotifyMode = NotifyMode.ALWAYS
    warning: NotifyMode = NotifyMode.WORKING_HOURS
    info: NotifyMode = NotifyMode.NEVER


class Flap(_Model):
    """policy.yaml `flap`: state changes within `window` that mark an alert flapping."""

    changes: Annotated[int, Field(strict=True, ge=1)] = 3
    window: PositiveDuration = timedelta(minutes=30)


class Policy(_Model):
    """policy.yaml; every key optional, defaults as in ARCHITECTURE §3."""

    ack_timeout: PositiveDuration = timedelta(minutes=5)
    ack_reminder: PositiveDuration = timedelta(hours=1)
    min_level: Level = 3
    steps: tuple[Step, ...] = (Step.FIRST, Step.NEXT, Step.ALL, Step.LEAD)
    repeat: Count = 1
    exhausted_every: PositiveDuration = timedelta(minutes=30)
    notify: Notify = Notify()
    group_by: tuple[str, ...] = ("alertname", "customer")
    storm: Annotated[int, Field(strict=True, ge=1)] = 100
    flap: Flap = Flap()
    # An incident over before its held SMS page went out is still told (a bundle line) unless
    # it lasted less than this; 0 = always tell.
    min_page_age: Duration = timedelta(0)

    def merged(self, override: "PolicyOverride | None") -> "Policy":
        """This policy with a system's override applied (notify and flap merge per key)."""
        if override is None:
            return self
        update = {k: v for k, v in _given(override).items() if k not in ("notify", "flap")}
        if override.notify is not None:
            update["notify"] = self.notify.model_copy(update=_given(override.notify))
        if override.flap is not None:
            update["flap"] = self.flap.model_copy(update=_given(override.flap))
        return self.model_copy(update=update)


def _given(model: BaseModel) -> dict[str, object]:
    values = {key: getattr(model, key) for key in model.model_fields_set}
    return {key: value for key, value in values.items() if value is not None}


class _NotifyOverride(_Model):
    critical: NotifyMode | None = None
    warning: NotifyMode | None = None
    info: NotifyMode | None = None


class _FlapOverride(_Model):
    changes: Annotated[int, Field(strict=True, ge=1)] | None = None
    window: PositiveDuration | None = None


class PolicyOverride(_Model):
    """A system's `policy:` — any policy.yaml key, applied on top of it."""

    ack_timeout: PositiveDuration | None = None
    ack_reminder: PositiveDuration | None = None
    min_level: Level | None = None
    steps: tuple[Step, ...] | None = None
    repeat: Count | None = None
    exhausted_every: PositiveDuration | None = None
    notify: _NotifyOverride | None = None
    group_by: tuple[str, ...] | None = None
    storm: Annotated[int, Field(strict=True, ge=1)] | None = None
    flap: _FlapOverride | None = None
    min_page_age: Duration | None = None


class Heartbeat(_Model):
    """A system's `heartbeat`: expect POST /heartbeats/{name} every `every` (+ `grace`)."""

    name: str | None = None  # default: the system's name
    every: PositiveDuration
    grace: Duration = timedelta(0)


class System(_Model):
    """One system alerts can be about (systems.yaml `systems.<name>`)."""

    customer: str | None = None
    skills: tuple[str, ...] = ()
    experts: tuple[str, ...] = ()
    runbook: str | None = None
    depends_on: tuple[str, ...] = ()
    policy: PolicyOverride | None = None
    heartbeat: Heartbeat | None = None
    match: tuple[dict[str, Pattern], ...] = ()


class Maintenance(_Model):
    """A maintenance window: one-off `start`..`end`, or `every` + `duration`, in `timezone`."""

    system: str | None = None
    customer: str | None = None
    start: LocalTime | None = None
    end: LocalTime | None = None
    every: Weekly | None = None
    duration: PositiveDuration | None = None
    timezone: ZoneName = "UTC"

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if self.system is None and self.customer is None:
            raise ValueError("maintenance needs a system or a customer")
        one_off = self.start is not None or self.end is not None
        recurring = self.every is not None or self.duration is not None
        if one_off == recurring:
            raise ValueError("give either start + end, or every + duration")
        if one_off and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("maintenance needs start and end, with end after start")
        if recurring and (self.every is None or self.duration is None):
            raise ValueError("recurring maintenance needs both every and duration")
        return self


class SystemsFile(_Model):
    """systems.yaml."""

    systems: dict[str, System]
    maintenance: tuple[Maintenance, ...] = ()
