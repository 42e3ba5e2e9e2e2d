"""Holds: what keeps an incident quiet, as stages applied when it opens and at each tick.

Like Alertmanager's `Muter` stages, each `Hold` looks at one incident and says whether it holds
it and until when, with the timeline events that say why: an upstream system's open incident
(`Dependencies`: suppressed, pages no one until that one resolves), a maintenance window, a
silence (a mute from a page is a silence too), a flapping alert key. The holds live in the
incident's typed flags (`Holds`) so the API shows them; `next_action_at` moves to the latest end.
A hold that is over is removed and the incident goes on to page.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.engine import Connection

from app.core.incident import EventKind
from app.incidents import store
from app.incidents.model import Event, Holds, Incident
from app.incidents.silences import ActiveSilence, incident_silenced_until
from app.routing.maintenance import maintenance_windows
from app.routing.rules import Rules
from app.store import alert_queries

_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class HoldContext:
    """What the holds are checked with."""

    conn: Connection
    rules: Rules
    now: datetime
    silences: Sequence[ActiveSilence] = ()
    reopened_key: tuple[str, str] | None = None  # (source, dedup_key) of a key that reopened


@dataclass(frozen=True, slots=True)
class Held:
    """A stage's verdict: the incident's holds afterwards, and what to say about them."""

    holds: Holds
    events: tuple[Event, ...] = ()


class Hold(Protocol):
    """One kind of hold, checked when an incident opens and when it comes due."""

    def on_open(self, incident: Incident, context: HoldContext) -> Held:
        """The hold an incident opening (or reopening) now starts with, if any."""
        ...

    def on_tick(self, incident: Incident, context: HoldContext) -> Held:
        """The hold on a due incident now: renewed, moved, or over."""
        ...


def _event(kind: EventKind, note: str) -> tuple[Event, ...]:
    return (Event(kind, note=note),)


def upstream_systems(rules: Rules, system: str | None) -> list[str]:
    """Every system `system` depends on, nearest first (breadth first; cycles are cut)."""
    if system is None or system not in rules.systems:
        return []
    found: list[str] = []
    queue = list(rules.systems[system].depends_on)
    while queue:
        name = queue.pop(0)
        if name == system or name in found:
            continue
        found.append(name)
        if name in rules.systems:
            queue.extend(rules.systems[name].depends_on)
    return found


@dataclass(frozen=True, slots=True)
class Upstream:
    """An open incident of a system another one depends on."""

    id: int
    system: str


def open_upstream(conn: Connection, rules: Rules, system: str | None) -> Upstream | None:
    """The nearest upstream system's open incident, or None (no query without `depends_on`)."""
    upstream = upstream_systems(rules, system)
    if not upstream:
        return None
    open_by_system = store.open_by_system(conn, upstream)
    nearest = next((name for name in upstream if name in open_by_system), None)
    return None if nearest is None else Upstream(open_by_system[nearest], nearest)


class Dependencies:
    """`depends_on`: while an upstream system has an open incident, its dependents wait."""

    def on_open(self, incident: Incident, context: HoldContext) -> Held:
        """Suppressed by the nearest upstream system's open incident, if there is one."""
        found = open_upstream(context.conn, context.rules, incident.system)
        holds = incident.flags.holds
        if found is None:
            return Held(holds)
        note = f"upstream {found.system} has open incident #{found.id}"
        suppressed = replace(holds, suppressed=True, suppressed_by=found.id)
        return Held(suppressed, _event(EventKind.SUPPRESSED, note))

    def on_tick(self, incident: Incident, context: HoldContext) -> Held:
        """Nothing: a suppressed incident has no next action; its upstream's resolving
        releases it (rerouting.release_dependents)."""
        return Held(incident.flags.holds)


def maintenance_end(
    rules: Rules, system: str | None, customer: str | None, now: datetime
) -> datetime | None:
    """The end of the latest window covering `system` / `customer` at `now`, or None."""
    if not rules.maintenance:
        return None
    windows = maintenance_windows(rules, now, now + _INSTANT)
    ends = [w.end_at for w in windows if w.applies_to(system, customer) and w.end_at > now]
    return max(ends, default=None)


def _renewed(
    holds: Holds,
    current: datetime | None,
    end: datetime | None,
    moved: Callable[[datetime | None], Holds],
    *,
    over: tuple[EventKind, str],
    held: tuple[EventKind, str],
) -> Held:
    """A hold with an end (now `current`) checked again: over (no `end`), unchanged, or moved
    to `end` (`moved` gives the holds with it), with the event that says which (`{end}` in its
    note)."""
    if end == current:
        return Held(holds)
    if end is None:
        return Held(moved(None), _event(*over))
    kind, note = held
    return Held(moved(end), _event(kind, note.format(end=end.isoformat())))


class Maintenance:
    """Maintenance windows: an incident opened inside one pages when the window ends."""

    def on_open(self, incident: Incident, context: HoldContext) -> Held:
        """Held until the window covering it ends, if one does."""
        holds = incident.flags.holds
        end = maintenance_end(context.rules, incident.system, incident.customer, context.now)
        if end is None:
            return Held(holds)
        note = f"in a maintenance window until {end.isoformat()}"
        return Held(replace(holds, maintenance_until=end), _event(EventKind.MAINTENANCE, note))

    def on_tick(self, incident: Incident, context: HoldContext) -> Held:
        """Still held while a window lasts (it may have been extended); over once none does."""
        holds = incident.flags.holds
        if holds.maintenance_until is None:
            return Held(holds)
        end = maintenance_end(context.rules, incident.system, incident.customer, context.now)
        return _renewed(
            holds,
            holds.maintenance_until,
            end,
            lambda end: replace(holds, maintenance_until=end),
            over=(EventKind.MAINTENANCE_OVER, "the maintenance window ended"),
            held=(EventKind.MAINTENANCE, "in a maintenance window until {end}"),
        )


class Silences:
    """Alertmanager-style silences (and mutes): held while every firing alert is silenced."""

    def on_open(self, incident: Incident, context: HoldContext) -> Held:
        """Nothing: an incident opens and is due at once; its first tick checks the silences."""
        return Held(incident.flags.holds)

    def on_tick(self, incident: Incident, context: HoldContext) -> Held:
        """Held until the silences matching all of its firing alerts end."""
        holds = incident.flags.holds
        until = incident_silenced_until(context.conn, incident, context.silences)
        return _renewed(
            holds,
            holds.silenced_until,
            until,
            lambda end: replace(holds, silenced_until=end),
            over=(EventKind.SILENCE_OVER, "no silence matches any more"),
            held=(EventKind.SILENCED, "until {end}"),
        )


class Flapping:
    """Flapping, Alerta-style: a key that changes state more than `flap.changes` times within
    `flap.window` reopens its incident quietly, and pages once stable for `flap.window`."""

    def on_open(self, incident: Incident, context: HoldContext) -> Held:
        """On a reopen, held when the key that reopened it flaps."""
        holds = incident.flags.holds
        if context.reopened_key is None:
            return Held(holds)
        source, key = context.reopened_key
        flap = context.rules.policy_for(_known(context.rules, incident.system)).flap
        since = context.now - flap.window
        changes = alert_queries.state_changes(context.conn, source, key, since=since) + 1
        if changes <= flap.changes:
            return Held(holds)
        flapping = replace(holds, flapping_keys=(key,), flapping_until=context.now + flap.window)
        note = f"{changes} state changes in {flap.window}: quiet until stable"
        return Held(flapping, _event(EventKind.FLAPPING, note))

    def on_tick(self, incident: Incident, context: HoldContext) -> Held:
        """Held until its flapping keys have not changed state for `flap.window`."""
        holds = incident.flags.holds
        if not holds.flapping:
            return Held(holds)
        window = context.rules.policy_for(_known(context.rules, incident.system)).flap.window
        last = alert_queries.last_change_at(context.conn, incident.id, holds.flapping_keys)
        stable_at = (last or context.now) + window
        if last is None or stable_at <= context.now:
            stable = replace(holds, flapping_keys=(), flapping_until=None)
            return Held(stable, _event(EventKind.STABLE, f"no state change for {window}"))
        return Held(replace(holds, flapping_until=stable_at))


def _known(rules: Rules, system: str | None) -> str | None:
    return system if system in rules.systems else None


ON_OPEN: tuple[Hold, ...] = (Dependencies(), Maintenance(), Flapping())
ON_TICK: tuple[Hold, ...] = (Silences(), Maintenance(), Flapping())


def check(
    incident: Incident, context: HoldContext, *, opening: bool, stages: Sequence[Hold] | None = None
) -> tuple[Incident, tuple[Event, ...]]:
    """Run the stages on an incident (those of an opening or of a tick); the incident with its
    new holds, and the events saying what changed."""
    holds_now = incident
    events: tuple[Event, ...] = ()
    for stage in stages if stages is not None else (ON_OPEN if opening else ON_TICK):
        held = stage.on_open(holds_now, context) if opening else stage.on_tick(holds_now, context)
        holds_now = holds_now.with_changes(flags=replace(holds_now.flags, holds=held.holds))
        events += held.events
    return holds_now, events
