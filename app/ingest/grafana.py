"""Grafana webhook contact point: unified alerting (one event per alert) and legacy payloads.

Also verifies Grafana's optional HMAC-SHA256 request signature.
"""

import hashlib
import hmac
from datetime import datetime

from app.core.alert import AlertStatus, ParsedAlert, severity_from_word
from app.ingest.base import SchemaError
from app.ingest.common import Node, Rejected, http_url, load_object, non_empty

SOURCE = "grafana"
REPLAY_WINDOW_SECONDS = 300
_SYNTHETIC_ALERTNAMES = frozenset({"DatasourceNoData", "DatasourceError"})
_UNIFIED_STATUS = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}
# Legacy states: no_data notifies like alerting; pending and paused are not alert events.
_LEGACY_STATUS = {
    "alerting": AlertStatus.FIRING,
    "no_data": AlertStatus.FIRING,
    "ok": AlertStatus.RESOLVED,
}
_LEGACY_SILENT_STATES = frozenset({"pending", "paused"})


class GrafanaSignatureRejected(Rejected):
    """The X-Grafana-Alerting-Signature (or its timestamp) does not check out."""


def parse(body: bytes) -> list[ParsedAlert]:
    """Normalise a Grafana webhook body: unified `alerts[]`, else the legacy rule payload."""
    root = load_object(body)
    if "alerts" in root.value:
        return _parse_unified(root)
    if "ruleId" in root.value:
        return _parse_legacy(root)
    raise SchemaError("alerts", "required (not Grafana's default payload: custom template?)")


def _parse_unified(root: Node) -> list[ParsedAlert]:
    org_id = root.text("orgId")
    return [_unified_alert(alert, org_id) for alert in root.objects("alerts")]


def _unified_alert(alert: Node, group_org_id: str | None) -> ParsedAlert:
    org_id = non_empty(alert.text("orgId")) or non_empty(group_org_id)
    if org_id is None:
        raise SchemaError("orgId", "required")
    status = _UNIFIED_STATUS.get((alert.text("status") or "").lower())
    if status is None:
        raise SchemaError(f"{alert.path}.status", "expected firing or resolved")
    labels = alert.labels("labels")
    annotations = alert.labels("annotations")
    severity, note = severity_from_word(labels.get("severity"))
    return ParsedAlert(
        source=SOURCE,
        dedup_key=f"grafana:{org_id}:{alert.req_text('fingerprint')}",
        status=status,
        severity=severity,
        summary=_unified_summary(labels, annotations),
        labels=labels,
        started_at=alert.time("startsAt"),
        # Grafana sets endsAt in the future on firing alerts; only a resolve has ended.
        ended_at=alert.time("endsAt") if status is AlertStatus.RESOLVED else None,
        source_url=_first_url(alert, "generatorURL", "panelURL", "dashboardURL"),
        runbook_url=http_url(annotations.get("runbook_url")),
        severity_note=note,
    )


def _unified_summary(labels: dict[str, str], annotations: dict[str, str]) -> str:
    alertname = labels.get("alertname", "")
    if alertname in _SYNTHETIC_ALERTNAMES and labels.get("rulename"):
        return f"{labels['rulename']}: {alertname}"
    return (
        non_empty(annotations.get("summary")) or non_empty(annotations.get("message")) or alertname
    )


def _first_url(node: Node, *keys: str) -> str | None:
    for key in keys:
        url = http_url(node.text(key))
        if url is not None:
            return url
    return None


def _parse_legacy(root: Node) -> list[ParsedAlert]:
    state = (root.text("state") or "").lower()
    if state in _LEGACY_SILENT_STATES:
        return []
    status = _LEGACY_STATUS.get(state)
    if status is None:
        raise SchemaError("state", "expected alerting, no_data, ok, pending or paused")
    rule_id = root.req_text("ruleId")
    # Grafana before 7 sent no orgId; those installs had the one default org, id 1.
    org_id = non_empty(root.text("orgId")) or "1"
    tags = root.labels("tags")
    severity, note = severity_from_word(tags.get("severity"))
    summary = non_empty(root.text("ruleName")) or non_empty(root.text("title"))
    return [
        ParsedAlert(
            source=SOURCE,
            dedup_key=f"grafana-legacy:{org_id}:{rule_id}",
            status=status,
            severity=severity,
            summary=summary or f"Grafana rule {rule_id}",
            labels=tags,
            source_url=http_url(root.text("ruleUrl")),
            severity_note=note,
        )
    ]


def verify_grafana_signature(
    secret: str, body: bytes, signature: str | None, timestamp: str | None, now: datetime
) -> None:
    """Check Grafana's hex HMAC-SHA256 over "{ts}:" + body (or the body alone without a ts)."""
    if not signature:
        raise GrafanaSignatureRejected("missing X-Grafana-Alerting-Signature")
    message = body
    if timestamp is not None:
        _check_fresh(timestamp, now)
        message = timestamp.encode() + b":" + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise GrafanaSignatureRejected("signature mismatch")


def _check_fresh(timestamp: str, now: datetime) -> None:
    text = timestamp.strip()
    # Only ASCII digits: int() would also take "١٢" or "+5", which Grafana never sends.
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise GrafanaSignatureRejected("timestamp is not unix seconds")
    if abs(now.timestamp() - int(text)) > REPLAY_WINDOW_SECONDS:
        raise GrafanaSignatureRejected("timestamp outside the 5-minute window")
