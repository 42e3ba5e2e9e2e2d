"""Neutral alert model every parser produces, and the helpers parsers share."""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol


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


class ParseError(ValueError):
    """The body is not valid JSON (or not the source's text format): HTTP 400."""


class SchemaError(ValueError):
    """Valid JSON of the wrong shape: HTTP 422, naming the field path in `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


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


class Parser(Protocol):
    """A source's pure parser: exact body in, alerts out, ParseError/SchemaError on bad input."""

    def __call__(self, body: bytes) -> list[ParsedAlert]: ...


def severity_from_word(word: object) -> tuple[Severity, str | None]:
    """Map a severity word (any case) to a Severity; unknown or missing → warning with a note."""
    if not isinstance(word, str) or not word.strip():
        return Severity.WARNING, "no severity given; treated as warning"
    found = _SEVERITY_WORDS.get(word.strip().lower())
    if found is None:
        return Severity.WARNING, f"unknown severity {word.strip()[:40]!r}; treated as warning"
    return found, None


def label_hash(labels: Mapping[str, str]) -> str:
    """Stable short id of a label set: sha256 of the sorted pairs, first 16 hex digits."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_json(body: bytes) -> object:
    """Decode a JSON body, turning any decoding problem into ParseError with its position."""
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise ParseError(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise ParseError("malformed JSON: nested too deeply") from exc


_GO_ZERO_YEAR = 1
_EPOCH_TEXT = re.compile(r"[0-9]{1,20}(\.[0-9]{1,9})?")


def parse_timestamp(value: object, field_path: str) -> datetime | None:
    """Parse RFC 3339 (any fraction length, `Z` or `+0000`) or epoch s/ms into aware UTC.

    Empty values and Go's zero time `0001-01-01T00:00:00Z` mean "none".
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SchemaError(field_path, "expected a timestamp")
    if isinstance(value, int | float):
        try:
            return _from_epoch(float(value), field_path)
        except OverflowError as exc:
            raise SchemaError(field_path, "timestamp out of range") from exc
    if not isinstance(value, str):
        raise SchemaError(field_path, "expected a timestamp")
    text = value.strip()
    if _EPOCH_TEXT.fullmatch(text):
        return _from_epoch(float(text), field_path)
    parsed = _parse_iso(text, field_path)
    if parsed.year == _GO_ZERO_YEAR:
        return None
    return parsed


def _from_epoch(seconds: float, field_path: str) -> datetime:
    if seconds > 1e11:  # milliseconds: 1e11 s is the year 5138
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise SchemaError(field_path, "timestamp out of range") from exc


def _parse_iso(text: str, field_path: str) -> datetime:
    normalised = text.replace("Z", "+00:00").replace("z", "+00:00")
    if "." in normalised:
        # Python takes at most 6 fractional digits; Go sends 9, .NET 7.
        head, _, rest = normalised.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        offset = rest[len(digits) :]
        normalised = f"{head}.{digits[:6].ljust(6, '0')}{offset}"
    try:
        parsed = datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise SchemaError(field_path, f"not a timestamp: {text[:40]!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:30:00+01:00 is before year 1 in UTC
        raise SchemaError(field_path, "timestamp out of range") from exc
