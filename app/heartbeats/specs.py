"""Pure: the heartbeats of a skills map, and the synthetic alerts a late heartbeat raises."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.core.alert import AlertStatus, ParsedAlert, Severity
from app.routing.matcher import is_literal, match_view
from app.routing.rules import Rules
from app.routing.schema import System

SOURCE = "heartbeat"
ALERTNAME = "HeartbeatMissed"


@dataclass(frozen=True, slots=True)
class HeartbeatSpec:
    """One heartbeat: its name, system, allowed silence and the labels that route to it."""

    name: str
    system: str
    every: timedelta
    grace: timedelta
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def limit(self) -> timedelta:
        """How long a silence may last before the heartbeat is late."""
        return self.every + self.grace


def heartbeat_specs(rules: Rules) -> dict[str, HeartbeatSpec]:
    """Every heartbeat of the rules by name (a heartbeat's name defaults to its system's)."""
    specs: dict[str, HeartbeatSpec] = {}
    for system_name, system in rules.systems.items():
        if system.heartbeat is None:
            continue
        name = system.heartbeat.name or system_name
        base = {"alertname": ALERTNAME, "heartbeat": name, "system": system_name}
        specs[name] = HeartbeatSpec(
            name=name,
            system=system_name,
            every=system.heartbeat.every,
            grace=system.heartbeat.grace,
            labels=routing_labels(rules, system_name, system, base),
        )
    return specs


def routing_labels(
    rules: Rules, system_name: str, system: System, base: Mapping[str, str]
) -> dict[str, str]:
    """`base` plus the labels of the system's first all-literal match entry that routes there.

    Systems match alerts by their `match` entries only, so a synthetic alert must carry labels
    one of them accepts; when none is literal (or an earlier system wins), `base` stays as is
    and the alert is unrouted: it pages the lead, which is still someone.
    """
    for entry in system.match:
        if not all(is_literal(pattern) for pattern in entry.values()):
            continue
        labels = {**base, **entry}
        probe = ParsedAlert(SOURCE, "", AlertStatus.FIRING, Severity.CRITICAL, "", labels)
        if rules.match(match_view(probe, Severity.CRITICAL.value)) == system_name:
            return labels
    return dict(base)


def dedup_key(name: str) -> str:
    """The alert key of a heartbeat: one firing row per heartbeat at a time."""
    return f"heartbeat:{name}"


def late_alert(spec: HeartbeatSpec, *, last_beat_at: datetime | None) -> ParsedAlert:
    """The critical alert of a heartbeat that missed its beat."""
    since = f"since {last_beat_at.isoformat()}" if last_beat_at else "yet"
    summary = (
        f"Heartbeat {spec.name} of {spec.system} is late: no beat {since} "
        f"(expected every {_text(spec.every)}, grace {_text(spec.grace)})"
    )
    return ParsedAlert(
        SOURCE,
        dedup_key(spec.name),
        AlertStatus.FIRING,
        Severity.CRITICAL,
        summary,
        dict(spec.labels),
    )


def beat_alert(name: str, note: str) -> ParsedAlert:
    """The resolved event that closes a late heartbeat's alert (its open row keeps its labels)."""
    return ParsedAlert(
        SOURCE, dedup_key(name), AlertStatus.RESOLVED, Severity.CRITICAL, note, {"heartbeat": name}
    )


def _text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
