"""Alertmanager API v2 postable alerts (`POST /api/v2/alerts`, what Prometheus and Grafana send).

An alert's key is its label set's fingerprint as Alertmanager computes it, so the same alert
posted here or delivered by an Alertmanager's webhook lands on the same row. Read as Alertmanager
reads it at `now`: an `endsAt` already past is a resolve; a firing alert expires at its `endsAt`
(Prometheus sets it a few evaluation intervals ahead and re-sends), or `RESOLVE_TIMEOUT` after
it was posted when it has none.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, RootModel

from app.core.alert import AlertStatus, ParsedAlert, severity_from_word
from app.ingest.alertmanager import SOURCE, summary_of
from app.ingest.base import SchemaError, parse_timestamp
from app.ingest.common import http_url
from app.ingest.schema import decode

# Alertmanager's default `resolve_timeout`.
RESOLVE_TIMEOUT = timedelta(minutes=5)

# FNV-1a 64 (prometheus/common model/fnv.go) and the byte between names and values.
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """A label set's fingerprint exactly as Prometheus and Alertmanager compute it
    (`model.LabelSet.Fingerprint`), as the 16 hex digits they show."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode(), _SEPARATOR):
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"


class _Postable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None


class _Alerts(RootModel[list[_Postable]]):
    pass


def parse_postable(body: bytes, now: datetime) -> list[ParsedAlert]:
    """Parse a JSON array of postable alerts received at `now`."""
    return [_read(alert, index, now) for index, alert in enumerate(decode(_Alerts, body).root)]


def _read(alert: _Postable, index: int, now: datetime) -> ParsedAlert:
    # Alertmanager drops empty labels before it fingerprints and validates.
    labels = {name: value for name, value in alert.labels.items() if value}
    if not labels:
        raise SchemaError(f"[{index}].labels", "at least one label pair required")
    ends = parse_timestamp(alert.endsAt, f"[{index}].endsAt")
    starts = parse_timestamp(alert.startsAt, f"[{index}].startsAt") or ends or now
    if ends is not None and ends < starts:
        raise SchemaError(f"[{index}].endsAt", "start time must be before end time")
    resolved = ends is not None and ends <= now
    severity, note = severity_from_word(labels.get("severity"))
    return ParsedAlert(
        source=SOURCE,
        dedup_key=f"{SOURCE}:{fingerprint(labels)}",
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        severity=severity,
        severity_note=note,
        summary=summary_of(labels, alert.annotations) or "(no summary)",
        labels=labels,
        started_at=starts,
        ended_at=ends if resolved else None,
        source_url=http_url(alert.generatorURL),
        runbook_url=http_url(alert.annotations.get("runbook_url")),
        expires_at=None if resolved else ends or now + RESOLVE_TIMEOUT,
    )
