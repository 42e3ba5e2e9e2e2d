"""Alertmanager webhook messages (version 4) as the end-to-end tests and benchmarks post them."""

from datetime import UTC, datetime
from typing import Any


def firing_alert(fingerprint: str, summary: str, **labels: str) -> dict[str, Any]:
    """One firing alert with `labels` (alertname, service, severity, ...), started now."""
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": summary},
        "startsAt": datetime.now(UTC).isoformat(),
        "fingerprint": fingerprint,
    }


def webhook_message(alertname: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """A firing webhook to receiver `skillpager` carrying `alerts`, grouped by `alertname`."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "skillpager",
        "groupLabels": {"alertname": alertname},
        "commonLabels": {},
        "commonAnnotations": {},
        "alerts": alerts,
    }


def service_down(alertname: str, service: str, fingerprint: str) -> dict[str, Any]:
    """A webhook with one critical alert: `service` is down."""
    alert = firing_alert(
        fingerprint, f"{service} is down", alertname=alertname, service=service, severity="critical"
    )
    return webhook_message(alertname, [alert])
