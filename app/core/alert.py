"""The neutral alert model: what every parser produces and every layer above reads."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Severity(StrEnum):
    """Normalised severity; rules match on it as key `severity`."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertStatus(StrEnum):
    """Normalised state of one alert event."""

    FIRING = "firing"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}

_SEVERITY_WORDS: dict[str, Severity] = {
    **dict.fromkeys(
        ("critical", "crit", "page", "emergency", "fatal", "error", "high", "p1", "sev0", "sev1"),
        Severity.CRITICAL,
    ),
    **dict.fromkeys(("warning", "warn", "medium", "p2", "p3", "sev2"), Severity.WARNING),
    **dict.fromkeys(
        ("info", "informational", "notice", "low", "none", "p4", "p5", "sev3", "sev4"),
        Severity.INFO,
    ),
}


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    """One normalised alert event, as a parser hands it to the writer."""

    source: str
    dedup_key: str
    status: AlertStatus
    severity: Severity
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    source_url: str | None = None
    runbook_url: str | None = None
    # Why severity fell back to warning (unknown or missing word), kept on the alert.
    severity_note: str | None = None
    # A firing alert not sent again by then is resolved at that time (Alertmanager API v2's
    # `endsAt` on a firing alert); None: firing until its monitor says it resolved.
    expires_at: datetime | None = None


def severity_from_word(word: object) -> tuple[Severity, str | None]:
    """Map a severity word (any case) to a Severity; unknown or missing → warning with a note."""
    if not isinstance(word, str) or not word.strip():
        return Severity.WARNING, "no severity given; treated as warning"
    found = _SEVERITY_WORDS.get(word.strip().lower())
    if found is None:
        return Severity.WARNING, f"unknown severity {word.strip()[:40]!r}; treated as warning"
    return found, None
