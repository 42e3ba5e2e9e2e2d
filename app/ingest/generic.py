"""Generic JSON webhook: one alert object or a list of them, in our own simple shape."""

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel

from app.core.alert import AlertStatus, ParsedAlert, severity_from_word
from app.ingest.base import label_hash, parse_timestamp
from app.ingest.common import http_url
from app.ingest.schema import decode

SOURCE = "generic"


class GenericAlert(BaseModel):
    """The generic body: every field but `summary` is optional."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1, max_length=10_000)
    severity: str | None = None
    status: AlertStatus = AlertStatus.FIRING
    dedup_key: str | None = Field(None, min_length=1, max_length=400)
    labels: dict[str, str] = Field(default_factory=dict)
    source_url: str | None = None
    runbook_url: str | None = None
    started_at: str | int | float | None = None


def _one_or_many(value: object) -> object:
    return value if isinstance(value, list) else [value]


class _Body(RootModel[Annotated[list[GenericAlert], BeforeValidator(_one_or_many)]]):
    pass


def parse(body: bytes) -> list[ParsedAlert]:
    """Parse one generic alert object or a list of them."""
    return [_normalise(alert, index) for index, alert in enumerate(decode(_Body, body).root)]


def _normalise(alert: GenericAlert, index: int) -> ParsedAlert:
    severity, note = severity_from_word(alert.severity)
    key = alert.dedup_key or label_hash(alert.labels)
    return ParsedAlert(
        source=SOURCE,
        dedup_key=f"{SOURCE}:{key}",
        status=alert.status,
        severity=severity,
        severity_note=note,
        summary=alert.summary,
        labels=alert.labels,
        started_at=parse_timestamp(alert.started_at, f"[{index}].started_at"),
        source_url=http_url(alert.source_url),
        runbook_url=http_url(alert.runbook_url),
    )
