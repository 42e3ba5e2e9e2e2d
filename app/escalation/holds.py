"""The tick's holds: a due incident waits while a silence, its maintenance window or its
flapping lasts, then pages as if new.

Each hold is kept in `incident.flags` (`silenced_until`, `maintenance`, `flapping_until`, as ISO
8601 ends) so the API shows it; `next_action_at` moves to the latest end. A hold that is over is
removed from the flags and the incident goes on to page.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from app.escalation.flapping import last_change_at
from app.escalation.maintenance_hold import maintenance_end
from app.escalation.silences import ActiveSilence, incident_silenced_until
from app.escalation.timeline import record_event
from app.routing.rules import Rules
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]


@dataclass(frozen=True, slots=True)
class HoldCheck:
    """What the tick knows when it checks one incident."""

    conn: Connection
    incident: Any
    rules: Rules
    now: datetime
    silences: Sequence[ActiveSilence]

    def note(self, kind: str, note: str) -> None:
        """Add a timeline event to the incident."""
        record_event(self.conn, self.incident.id, self.now, kind=kind, note=note)


def hold_if_quiet(check: HoldCheck) -> tuple[bool, bool]:
    """(held, flags changed): hold the incident until its latest hold ends, if any."""
    before = dict(check.incident.flags or {})
    flags = dict(before)
    ends = [
        end
        for end in (
            _silence(check, flags),
            _maintenance(check, flags),
            _flapping(check, flags),
        )
        if end is not None
    ]
    values: dict[str, Any] = {}
    if flags != before:
        values["flags"] = flags
    if ends:
        values["next_action_at"] = max(ends)
    if values:
        check.conn.execute(
            update(_incidents).where(_incidents.c.id == check.incident.id).values(**values)
        )
    return bool(ends), flags != before


def _silence(check: HoldCheck, flags: dict[str, Any]) -> datetime | None:
    until = incident_silenced_until(check.conn, check.incident, check.silences)
    if until is None:
        if flags.pop("silenced_until", None):
            check.note("silence_over", "no silence matches any more")
        return None
    if flags.get("silenced_until") != until.isoformat():
        flags["silenced_until"] = until.isoformat()
        check.note("silenced", f"until {until.isoformat()}")
    return until


def _maintenance(check: HoldCheck, flags: dict[str, Any]) -> datetime | None:
    if not flags.get("maintenance"):
        return None
    incident = check.incident
    end = maintenance_end(check.rules, incident.system, incident.customer, check.now)
    if end is None:
        flags.pop("maintenance")
        check.note("maintenance_over", "the maintenance window ended")
        return None
    if flags["maintenance"] != end.isoformat():
        flags["maintenance"] = end.isoformat()
        check.note("maintenance", f"in a maintenance window until {end.isoformat()}")
    return end


def _flapping(check: HoldCheck, flags: dict[str, Any]) -> datetime | None:
    if not flags.get("flapping"):
        return None
    system = check.incident.system
    window: timedelta = check.rules.policy_for(
        system if system in check.rules.systems else None
    ).flap.window
    last = last_change_at(check.conn, check.incident.id, flags.get("flapping_keys", []))
    stable_at = (last or check.now) + window
    if last is None or stable_at <= check.now:
        for key in ("flapping", "flapping_keys", "flapping_until"):
            flags.pop(key, None)
        check.note("stable", f"no state change for {window}")
        return None
    flags["flapping_until"] = stable_at.isoformat()
    return stable_at
