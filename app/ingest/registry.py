"""The sources we accept at `/webhooks/{source}` and the parser for each."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.core.alert import ParsedAlert
from app.ingest import (
    alertmanager,
    azure,
    cloudwatch,
    datadog,
    gcp,
    generic,
    grafana,
    pagerduty,
    postable,
)


@dataclass(frozen=True, slots=True)
class ParseOutcome:
    """A parser's alerts plus what the router reports about the body."""

    alerts: list[ParsedAlert]
    truncated: int = 0


def _plain(parse: Callable[[bytes], list[ParsedAlert]]) -> Callable[[bytes], ParseOutcome]:
    return lambda body: ParseOutcome(parse(body))


def _alertmanager(body: bytes) -> ParseOutcome:
    if body.lstrip()[:1] == b"[":
        # API v2 postable alerts (what `POST /api/v2/alerts` stores): read as of now when
        # replayed or dry-run.
        return ParseOutcome(postable.parse_postable(body, datetime.now(UTC)))
    alerts, truncated = alertmanager.parse_batch(body)
    return ParseOutcome(alerts, truncated)


PARSERS: dict[str, Callable[[bytes], ParseOutcome]] = {
    "alertmanager": _alertmanager,
    "generic": _plain(generic.parse),
    "grafana": _plain(grafana.parse),
    "cloudwatch": _plain(cloudwatch.parse),
    "azure": _plain(azure.parse),
    "gcp": _plain(gcp.parse),
    "datadog": _plain(datadog.parse),
    "pagerduty": _plain(pagerduty.parse),
}


def parser_for(source: str) -> Callable[[bytes], list[ParsedAlert]] | None:
    """The plain alert parser of a source (for the CLI's dry-run and replay)."""
    outcome = PARSERS.get(source)
    if outcome is None:
        return None
    return lambda body: outcome(body).alerts
