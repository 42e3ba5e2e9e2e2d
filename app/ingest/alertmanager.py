"""Prometheus Alertmanager webhook (v4): one ParsedAlert per entry of `alerts[]`."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.alert import AlertStatus, ParsedAlert, severity_from_word
from app.ingest.base import label_hash, parse_timestamp
from app.ingest.common import http_url
from app.ingest.schema import decode

SOURCE = "alertmanager"


class _Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: AlertStatus = AlertStatus.FIRING
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alerts: list[_Alert]
    truncatedAlerts: int = Field(0, ge=0)
    externalURL: str | None = None


def parse_batch(body: bytes) -> tuple[list[ParsedAlert], int]:
    """Parse a webhook body into alerts plus Alertmanager's count of truncated alerts."""
    message = decode(_Message, body)
    alerts = [_normalise(alert, index) for index, alert in enumerate(message.alerts)]
    return alerts, message.truncatedAlerts


def parse(body: bytes) -> list[ParsedAlert]:
    """Parse a webhook body into one alert per entry (per-alert status, never the group's)."""
    return parse_batch(body)[0]


def summary_of(labels: dict[str, str], annotations: dict[str, str]) -> str:
    """`annotations.summary` → `annotations.message` → `alertname` (shared with Grafana)."""
    return annotations.get("summary") or annotations.get("message") or labels.get("alertname", "")


def _normalise(alert: _Alert, index: int) -> ParsedAlert:
    fingerprint = alert.fingerprint or label_hash(alert.labels)
    severity, note = severity_from_word(alert.labels.get("severity"))
    status = AlertStatus.RESOLVED if alert.status == AlertStatus.RESOLVED else AlertStatus.FIRING
    ended_at: datetime | None = None
    if status == AlertStatus.RESOLVED:
        ended_at = parse_timestamp(alert.endsAt, f"alerts[{index}].endsAt")
    return ParsedAlert(
        source=SOURCE,
        dedup_key=f"{SOURCE}:{fingerprint}",
        status=status,
        severity=severity,
        severity_note=note,
        summary=summary_of(alert.labels, alert.annotations) or "(no summary)",
        labels=alert.labels,
        started_at=parse_timestamp(alert.startsAt, f"alerts[{index}].startsAt"),
        ended_at=ended_at,
        source_url=http_url(alert.generatorURL),
        runbook_url=http_url(alert.annotations.get("runbook_url")),
    )
