"""The incident as the core works with it: read once from its row, typed, changed by copying.

`IncidentFlags` replaces the JSON bag of earlier versions with three typed parts, stored in the
same `flags` column: the holds that keep an incident quiet, its storm figures, and the marks
its ladder left (exhausted, reminded). Times travel as ISO 8601 in the column and as aware datetimes
here; migration 0008 carried the old flat keys into this shape.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from app.clock import as_utc
from app.core.incident import OPEN_STATES, IncidentState
from app.incidents.ladder import Ladder
from app.routing.decision import Action, Decision


def _when(value: Any) -> datetime | None:
    return as_utc(datetime.fromisoformat(value)) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class Holds:
    """Why an incident is quiet, each with its end (None: not held that way)."""

    # Waiting for an upstream incident (`suppressed_by`, which customers do not see): no
    # next action until that one resolves.
    suppressed: bool = False
    suppressed_by: int | None = None
    maintenance_until: datetime | None = None
    silenced_until: datetime | None = None
    flapping_keys: tuple[str, ...] = ()  # the alert keys whose flapping holds it
    flapping_until: datetime | None = None

    @property
    def flapping(self) -> bool:
        """Held until its flapping keys have been stable for the flap window."""
        return self.flapping_until is not None

    def ends(self) -> list[datetime]:
        """The ends of the holds with an end."""
        found = (self.maintenance_until, self.silenced_until, self.flapping_until)
        return [end for end in found if end is not None]

    def to_json(self) -> dict[str, Any]:
        """The stored shape: only the holds that are set."""
        stored = {
            "suppressed": self.suppressed or None,
            "suppressed_by": self.suppressed_by,
            "maintenance_until": _iso(self.maintenance_until),
            "silenced_until": _iso(self.silenced_until),
            "flapping_keys": list(self.flapping_keys) or None,
            "flapping_until": _iso(self.flapping_until),
        }
        return {key: value for key, value in stored.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Holds":
        """Read the stored shape."""
        return cls(
            suppressed=bool(data.get("suppressed", False)),
            suppressed_by=data.get("suppressed_by"),
            maintenance_until=_when(data.get("maintenance_until")),
            silenced_until=_when(data.get("silenced_until")),
            flapping_keys=tuple(data.get("flapping_keys") or ()),
            flapping_until=_when(data.get("flapping_until")),
        )


@dataclass(frozen=True, slots=True)
class StormFigures:
    """What arrived for an incident: counts, the newest summaries, and the storm's peak rate."""

    events: int = 0  # events received
    keys: int = 0  # distinct alert keys
    recent: tuple[str, ...] = ()  # the newest summaries, newest first
    rate_start: datetime | None = None  # start of the minute being counted
    rate_count: int = 0  # events in that minute
    peak_rate: int = 0  # the most events seen in a minute, once a storm
    told: bool = False  # a page has said "storm" already

    @property
    def storm(self) -> bool:
        """More than the policy's `storm` events arrived in a minute."""
        return self.peak_rate > 0

    def to_json(self) -> dict[str, Any]:
        """The stored shape."""
        return {
            "events": self.events,
            "keys": self.keys,
            "recent": list(self.recent),
            "rate_start": _iso(self.rate_start),
            "rate_count": self.rate_count,
            "peak_rate": self.peak_rate,
            "told": self.told,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StormFigures":
        """Read the stored shape."""
        return cls(
            events=int(data.get("events", 0)),
            keys=int(data.get("keys", 0)),
            recent=tuple(data.get("recent") or ()),
            rate_start=_when(data.get("rate_start")),
            rate_count=int(data.get("rate_count", 0)),
            peak_rate=int(data.get("peak_rate", 0)),
            told=bool(data.get("told", False)),
        )


@dataclass(frozen=True, slots=True)
class LadderMarks:
    """Where the ladder has been beyond its position: past its last round, the owner reminded."""

    exhausted: bool = False
    reminded_at: datetime | None = None  # this acknowledgement's reminder went out
    reminders: int = 0  # reminders sent over the incident's life

    def to_json(self) -> dict[str, Any]:
        """The stored shape."""
        return {
            "exhausted": self.exhausted,
            "reminded_at": _iso(self.reminded_at),
            "reminders": self.reminders,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LadderMarks":
        """Read the stored shape."""
        return cls(
            exhausted=bool(data.get("exhausted", False)),
            reminded_at=_when(data.get("reminded_at")),
            reminders=int(data.get("reminders", 0)),
        )


@dataclass(frozen=True, slots=True)
class IncidentFlags:
    """Everything an incident carries beyond its columns, typed."""

    holds: Holds = field(default_factory=Holds)
    storm: StormFigures = field(default_factory=StormFigures)
    marks: LadderMarks = field(default_factory=LadderMarks)

    def for_customer(self) -> "IncidentFlags":
        """What a customer may see: why it is quiet and how big it is, never the ladder's marks,
        the upstream incident's id or the alert keys."""
        holds, storm = self.holds, self.storm
        return IncidentFlags(
            holds=replace(holds, suppressed_by=None, flapping_keys=()),
            storm=StormFigures(
                events=storm.events, keys=storm.keys, recent=storm.recent, peak_rate=storm.peak_rate
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """The `flags` column's content."""
        return {
            "holds": self.holds.to_json(),
            "storm": self.storm.to_json(),
            "marks": self.marks.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "IncidentFlags":
        """Read the `flags` column (empty or missing parts read as their defaults)."""
        data = data or {}
        return cls(
            holds=Holds.from_json(data.get("holds") or {}),
            storm=StormFigures.from_json(data.get("storm") or {}),
            marks=LadderMarks.from_json(data.get("marks") or {}),
        )


@dataclass(frozen=True)
class Incident:
    """One incident, read once from its row; state changes return a changed copy."""

    id: int
    group_key: str
    state: IncidentState
    system: str | None
    customer: str | None
    severity: str
    summary: str
    unrouted: bool
    alert_count: int
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    next_action_at: datetime | None
    decision_json: dict[str, Any]
    rules_version: str
    cycle: int
    step_index: int
    round: int
    flags: IncidentFlags

    @classmethod
    def from_row(cls, row: Any) -> "Incident":
        """An incident from a row of the `incidents` table."""
        return cls(
            id=row.id,
            group_key=row.group_key,
            state=IncidentState(row.state),
            system=row.system,
            customer=row.customer,
            severity=row.severity,
            summary=row.summary,
            unrouted=row.unrouted,
            alert_count=row.alert_count,
            opened_at=as_utc(row.opened_at),
            acknowledged_at=_utc_or_none(row.acknowledged_at),
            acknowledged_by=row.acknowledged_by,
            resolved_at=_utc_or_none(row.resolved_at),
            resolved_by=row.resolved_by,
            next_action_at=_utc_or_none(row.next_action_at),
            decision_json=row.decision,
            rules_version=row.rules_version,
            cycle=row.cycle,
            step_index=row.step_index,
            round=row.round,
            flags=IncidentFlags.from_json(row.flags),
        )

    @cached_property
    def decision(self) -> Decision:
        """The routing decision taken when it opened (or last rerouted), parsed once."""
        return Decision.model_validate(self.decision_json)

    @property
    def action(self) -> Action:
        """What its decision says to do: page, wait for working hours, or dashboard only."""
        # Read from the stored JSON: the ingest path asks this of every incident a batch
        # touches, and parsing the whole decision there cost a tenth of its throughput.
        return Action(self.decision_json["action"])

    @cached_property
    def ladder(self) -> Ladder:
        """Who its decision pages at each position of the ladder."""
        return Ladder.from_decision(self.decision)

    @property
    def is_open(self) -> bool:
        """Not resolved."""
        return self.state in OPEN_STATES

    def with_changes(self, **values: Any) -> "Incident":
        """A copy with some fields changed; the parsed decision and ladder go with it unless
        the decision changed (they are parsed again when read)."""
        changed = replace(self, **values)
        if "decision_json" not in values:
            for parsed in ("decision", "ladder"):
                if parsed in self.__dict__:
                    changed.__dict__[parsed] = self.__dict__[parsed]
        return changed

    def columns(self) -> dict[str, Any]:
        """The row's writable columns, as the store writes them."""
        return {
            "state": self.state.value,
            "severity": self.severity,
            "summary": self.summary,
            "alert_count": self.alert_count,
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
            "next_action_at": self.next_action_at,
            "decision": self.decision_json,
            "cycle": self.cycle,
            "step_index": self.step_index,
            "round": self.round,
            "flags": self.flags.to_json(),
        }


def _utc_or_none(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def first_action_at(decision: Decision, now: datetime) -> datetime | None:
    """When the tick should first act: now to page, at `page_at` to wait, never for dashboard."""
    if decision.action is Action.PAGE:
        return now
    if decision.action is Action.WAIT:
        return decision.page_at
    return None


def held_until(holds: Holds, proposed: datetime | None) -> datetime | None:
    """When an incident with `holds` may act, given it would act at `proposed` (None: never)."""
    if proposed is None or holds.suppressed:
        return None
    return max([proposed, *holds.ends()])


@dataclass(frozen=True, slots=True)
class Event:
    """A timeline entry to record: what happened, who did it, through which channel."""

    kind: str  # an EventKind (notes and custom kinds are plain text)
    note: str | None = None
    actor: str | None = None
    channel: str | None = None
