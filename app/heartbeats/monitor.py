"""Heartbeats over time: record beats, raise the alert of a late one, resolve it on the next beat.

A heartbeat is late when no beat came for `every + grace` since its last beat, or since it
first appeared in the rules, or since this process started (nobody could beat while we were
down). Each check compares the table with the clock and moves states with conditional updates;
alerts go in before a state changes, and the writer's (source, dedup key) upsert makes a repeat
harmless, so a crash, a restart or a second replica never loses or doubles an incident.
"""

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from app.clock import Clock, as_utc
from app.core.alert import AlertStatus, ParsedAlert
from app.errors import NotFound
from app.heartbeats import store
from app.heartbeats.sink import AlertSink, submit_alert
from app.heartbeats.specs import HeartbeatSpec, beat_alert, heartbeat_specs, late_alert
from app.routing.rules import Rules
from app.store.database import Database

log = logging.getLogger(__name__)
WATCHDOG_SOURCE = "alertmanager"


class RulesSource(Protocol):
    """Anything that hands out the rules in force (the RulesHolder does)."""

    @property
    def rules(self) -> Rules: ...


@dataclass(frozen=True, slots=True)
class Beat:
    """What a beat did: the heartbeat, whether it closed a late alert, and the next deadline."""

    spec: HeartbeatSpec
    resolved: bool
    due_at: datetime


class HeartbeatMonitor:
    """Records beats and checks for late heartbeats once per engine cycle."""

    def __init__(self, db: Database, sink: AlertSink, rules: RulesSource, *, clock: Clock):
        self._db = db
        self._sink = sink
        self._rules = rules
        self._clock = clock
        self._started_at = clock.now()
        self._seen: Rules | None = None
        self._specs: dict[str, HeartbeatSpec] = {}

    def specs(self) -> Mapping[str, HeartbeatSpec]:
        """The heartbeats of the rules in force, by name (recomputed when the rules change)."""
        rules = self._rules.rules
        if rules is not self._seen:
            self._specs, self._seen = heartbeat_specs(rules), rules
        return self._specs

    async def beat(self, name: str) -> Beat:
        """Record a beat of `name`, resolving its alert if it was late; NotFound if unknown."""
        spec = self.specs().get(name)
        if spec is None:
            raise NotFound(f"no heartbeat {name!r} in the rules")
        now = self._clock.now()
        before = await self._db.transaction(partial(store.record_beat, spec=spec, now=now))
        resolved = before == store.LATE
        if resolved:
            await self._resolve(name, f"Heartbeat {name} beat again", now)
        return Beat(spec, resolved, now + spec.limit)

    async def beat_from(self, source: str, alerts: Iterable[ParsedAlert]) -> None:
        """Count firing Alertmanager alerts named like a heartbeat (a Watchdog) as its beats."""
        if source != WATCHDOG_SOURCE:
            return
        specs = self.specs()
        names = {
            name
            for alert in alerts
            if (name := alert.labels.get("alertname", "")) in specs
            and alert.status is AlertStatus.FIRING
        }
        for name in names:
            await self.beat(name)

    async def check(self, now: datetime) -> None:
        """Raise alerts of late heartbeats and resolve those that beat since; idempotent."""
        specs = self.specs()
        rows = await self._db.transaction(partial(store.watched, specs=specs, now=now))
        for row in rows:
            spec = specs.get(row.name)
            if spec is None:
                await self._retire(row)
            elif row.state == store.OK and self._overdue(row, spec, now):
                await self._raise(spec, row, now)
            elif row.state == store.LATE and _beat_since_late(row):
                await self._resolve(row.name, f"Heartbeat {row.name} beat again", now)

    def _overdue(self, row: Any, spec: HeartbeatSpec, now: datetime) -> bool:
        waiting_since = as_utc(row.last_beat_at or row.watched_since)
        return now - max(waiting_since, self._started_at) > spec.limit

    async def _raise(self, spec: HeartbeatSpec, row: Any, now: datetime) -> None:
        last = as_utc(row.last_beat_at) if row.last_beat_at else None
        await self._submit(late_alert(spec, last_beat_at=last), event="late")
        await self._db.transaction(partial(store.mark, name=spec.name, state=store.LATE, now=now))
        log.warning("heartbeat %s is late", spec.name, extra={"heartbeat": spec.name})

    async def _resolve(self, name: str, note: str, now: datetime) -> None:
        await self._submit(beat_alert(name, note), event="beat")
        await self._db.transaction(partial(store.mark, name=name, state=store.OK, now=now))

    async def _retire(self, row: Any) -> None:
        if row.state == store.LATE:
            note = f"Heartbeat {row.name} removed from the rules"
            await self._submit(beat_alert(row.name, note), event="gone")
        await self._db.transaction(partial(store.forget, names=[row.name]))

    async def _submit(self, alert: ParsedAlert, *, event: str) -> None:
        name = alert.labels.get("heartbeat", "")
        await submit_alert(self._sink, alert, {"heartbeat": name, "event": event})


def _beat_since_late(row: Any) -> bool:
    # A beat racing the check that marked it late is seen here, on the next check.
    return bool(row.last_beat_at and row.late_at and row.last_beat_at > row.late_at)
