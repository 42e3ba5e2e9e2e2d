"""Silences, Alertmanager-style: label matchers with an end time. Silenced alerts are stored and
shown but page no one; when the silence ends, incidents still firing are paged as if new."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.incidents import store
from app.store import alert_queries
from app.store.tables import Base, Silence

_silences = Base.metadata.tables["silences"]


class Matcher(BaseModel):
    """One Alertmanager API v2 matcher."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=1000)
    isRegex: bool = False
    isEqual: bool = True

    @model_validator(mode="after")
    def _valid_regex(self) -> Self:
        if self.isRegex:
            try:
                re.compile(self.value)
            except re.error as exc:
                # A custom error: its context stays JSON (a ValueError's would not serialise).
                context = {"value": self.value, "problem": str(exc)}
                message = "invalid regex {value}: {problem}"
                raise PydanticCustomError("regex", message, context) from exc
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the label set satisfies this matcher (a missing label counts as "")."""
        actual = labels.get(self.name, "")
        hit = bool(re.fullmatch(self.value, actual)) if self.isRegex else actual == self.value
        return hit == self.isEqual


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    """A silence in force."""

    id: int
    matchers: tuple[Matcher, ...]
    ends_at: datetime

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Every matcher holds."""
        return all(m.matches(labels) for m in self.matchers)


def silence_labels(
    labels: Mapping[str, str],
    *,
    source: str,
    severity: str,
    system: str | None,
    customer: str | None,
) -> dict[str, str]:
    """What silences match on: the alert's labels plus monitor, severity, system, customer."""
    view = dict(labels)
    view |= {"monitor": source, "severity": severity}
    if system:
        view["system"] = system
    if customer:
        view["customer"] = customer
    return view


def active_silences(conn: Connection, now: datetime) -> list[ActiveSilence]:
    """Silences in force at `now`."""
    rows = conn.execute(
        select(_silences).where(
            _silences.c.starts_at <= now,
            _silences.c.ends_at > now,
            _silences.c.expired_at.is_(None),
        )
    ).all()
    return [
        ActiveSilence(
            row.id,
            tuple(Matcher.model_validate(m) for m in row.matchers["matchers"]),
            as_utc(row.ends_at),
        )
        for row in rows
    ]


def silenced_until(silences: Sequence[ActiveSilence], labels: Mapping[str, str]) -> datetime | None:
    """The latest end of the silences matching `labels`, or None when none does."""
    ends = [s.ends_at for s in silences if s.matches(labels)]
    return max(ends, default=None)


def incident_silenced_until(
    conn: Connection, incident: Any, silences: Sequence[ActiveSilence]
) -> datetime | None:
    """Until when an incident is silenced: all of its firing alerts must be matched."""
    if not silences:
        return None
    rows = alert_queries.firing_alerts(conn, incident.id)
    ends = [
        silenced_until(
            silences,
            silence_labels(
                row.labels,
                source=row.source,
                severity=row.severity,
                system=incident.system,
                customer=incident.customer,
            ),
        )
        for row in rows
    ]
    if not ends or any(end is None for end in ends):
        return None
    return min(end for end in ends if end is not None)


def create_silence(
    conn: Connection,
    *,
    matchers: Sequence[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime,
) -> int:
    """Store a silence; returns its id."""
    result = conn.execute(
        insert(_silences).returning(_silences.c.id),
        {
            "matchers": {"matchers": [m.model_dump() for m in matchers]},
            "starts_at": starts_at,
            "ends_at": ends_at,
            "created_by": created_by,
            "comment": comment,
            "created_at": now,
        },
    )
    return int(result.scalar_one())


def expire_silence(conn: Connection, silence_id: int, now: datetime) -> bool:
    """End a silence now; False when there is no such active silence."""
    result = conn.execute(
        update(_silences)
        .where(_silences.c.id == silence_id, _silences.c.expired_at.is_(None))
        .values(expired_at=now)
    )
    return result.rowcount > 0


def release_silenced(conn: Connection, now: datetime) -> int:
    """Make incidents held by a silence due now (after one was expired early): the tick checks
    them against the silences left and pages those no longer silenced; returns how many."""
    held = [i.id for i in store.held_later(conn, now) if i.flags.holds.silenced_until is not None]
    store.make_due(conn, held, now)
    return len(held)


class PostableSilence(BaseModel):
    """Alertmanager's `postableSilence` (an `id`, for updates, is not supported and ignored).

    What `POST /api/silences` takes and the dashboard's form is checked as."""

    model_config = ConfigDict(extra="ignore")

    matchers: list[Matcher] = Field(min_length=1, max_length=50)
    startsAt: AwareDatetime
    endsAt: AwareDatetime
    createdBy: str = Field(min_length=1, max_length=100)
    comment: str = Field(max_length=2000)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.endsAt <= self.startsAt:
            # A custom error: its context stays JSON (a ValueError's would not serialise).
            raise PydanticCustomError("value_error", "endsAt must be after startsAt")
        return self


def silence_state(silence: Silence, now: datetime) -> tuple[str, datetime]:
    """A stored silence's state at `now` (active, pending or expired) and its end: the earlier of
    its end time and when it was expired."""
    ends = as_utc(silence.ends_at)
    if silence.expired_at is not None:
        ends = min(ends, as_utc(silence.expired_at))
    state = "expired" if ends <= now else "pending" if as_utc(silence.starts_at) > now else "active"
    return state, ends


def create_posted(conn: Connection, *, body: PostableSilence, now: datetime) -> int:
    """Store a silence as posted (API or dashboard form); its id."""
    return create_silence(
        conn,
        matchers=body.matchers,
        starts_at=body.startsAt.astimezone(UTC),
        ends_at=body.endsAt.astimezone(UTC),
        created_by=body.createdBy,
        comment=body.comment,
        now=now,
    )


def expire_and_release(conn: Connection, *, silence_id: int, now: datetime) -> bool:
    """Expire a silence now and make the incidents it held due (the caller kicks the engine);
    False when there is no such silence (an already expired one counts as found)."""
    exists = conn.execute(select(_silences.c.id).where(_silences.c.id == silence_id)).first()
    if exists is None:
        return False
    if expire_silence(conn, silence_id, now):
        release_silenced(conn, now)
    return True
