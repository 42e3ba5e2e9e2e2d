"""What parsing monitor payloads shares: the parser seam, its two errors, and decoding helpers.

The alert model they produce (`ParsedAlert`, `Severity`, `AlertStatus`) is `app.core.alert`.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from app.core.alert import ParsedAlert


class ParseError(ValueError):
    """The body is not valid JSON (or not the source's text format): HTTP 400."""


class SchemaError(ValueError):
    """Valid JSON of the wrong shape: HTTP 422, naming the field path in `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Parser(Protocol):
    """A source's pure parser: exact body in, alerts out, ParseError/SchemaError on bad input."""

    def __call__(self, body: bytes) -> list[ParsedAlert]: ...


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
