"""Azure Monitor action-group webhooks in the common alert schema: one event per request."""

from app.core.alert import AlertStatus, ParsedAlert, Severity
from app.ingest.base import SchemaError
from app.ingest.common import Node, http_url, load_object, non_empty

SOURCE = "azure"
COMMON_SCHEMA = "azureMonitorCommonAlertSchema"
_STATUS = {"fired": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}
# Sev0 Critical, Sev1 Error, Sev2 Warning, Sev3 Informational, Sev4 Verbose.
_SEVERITY = {
    "sev0": Severity.CRITICAL,
    "sev1": Severity.CRITICAL,
    "sev2": Severity.WARNING,
    "sev3": Severity.INFO,
    "sev4": Severity.INFO,
}


def parse(body: bytes) -> list[ParsedAlert]:
    """Normalise a common-alert-schema body; any other schemaId is a SchemaError."""
    root = load_object(body)
    schema_id = root.text("schemaId") or ""
    if schema_id.lower() != COMMON_SCHEMA.lower():
        raise SchemaError(
            "schemaId",
            f"expected {COMMON_SCHEMA!r} (enable the common alert schema on the action group), "
            f"got {schema_id[:60]!r}",
        )
    data = root.obj("data")
    essentials = data.obj("essentials")
    condition = essentials.req_text("monitorCondition")
    status = _STATUS.get(condition.lower())
    if status is None:
        raise SchemaError("data.essentials.monitorCondition", "expected Fired or Resolved")
    severity, note = _severity(essentials.text("severity"))
    return [
        ParsedAlert(
            source=SOURCE,
            dedup_key=f"azure:{essentials.req_text('alertId')}",
            status=status,
            severity=severity,
            summary=essentials.req_text("alertRule"),
            labels=_labels(data, essentials),
            started_at=essentials.time("firedDateTime"),
            ended_at=(
                essentials.time("resolvedDateTime") if status is AlertStatus.RESOLVED else None
            ),
            source_url=http_url(essentials.text("investigationLink")),
            severity_note=note,
        )
    ]


def _severity(word: str | None) -> tuple[Severity, str | None]:
    found = _SEVERITY.get((word or "").strip().lower())
    if found is None:
        return Severity.WARNING, f"unknown Azure severity {(word or '')[:40]!r}; treated as warning"
    return found, None


def _labels(data: Node, essentials: Node) -> dict[str, str]:
    labels = data.labels("customProperties")
    labels |= _dimension_labels(data.opt_obj("alertContext"))
    target = _arm_parts(_first_text(essentials, "alertTargetIDs") or "")
    alert = _arm_parts(essentials.text("alertId") or "")
    fixed = {
        "alert_rule": essentials.text("alertRule"),
        "signal_type": essentials.text("signalType"),
        "monitoring_service": essentials.text("monitoringService"),
        "subscription_id": target.get("subscriptions") or alert.get("subscriptions"),
        "resource_group": essentials.text("targetResourceGroup") or target.get("resourcegroups"),
        "resource_type": essentials.text("targetResourceType") or target.get("type"),
        "resource_name": _first_text(essentials, "configurationItems"),
    }
    labels |= {key: value for key, value in fixed.items() if value}
    return labels


def _dimension_labels(context: Node | None) -> dict[str, str]:
    condition = context.opt_obj("condition") if context else None
    if condition is None:
        return {}
    labels: dict[str, str] = {}
    for criterion in condition.objects("allOf"):
        for dimension in criterion.objects("dimensions"):
            name = dimension.text("name")
            if name:
                labels[f"dimension.{name}"] = dimension.text("value") or ""
    return labels


def _first_text(node: Node, key: str) -> str | None:
    items = node.items(key)
    if not items or not isinstance(items[0], str):
        return None
    return non_empty(items[0])


def _arm_parts(arm_id: str) -> dict[str, str]:
    """Split an ARM id /subscriptions/S/resourcegroups/G/providers/NS/T/N into its parts."""
    segments = [segment for segment in arm_id.split("/") if segment]
    parts: dict[str, str] = {}
    for index in range(0, len(segments) - 1, 2):
        key = segments[index].lower()
        if key == "providers":
            # After "providers": the namespace, then type/name pairs (nested types chain on).
            tail = segments[index + 1 :]
            if len(tail) >= 3:
                parts["type"] = "/".join([tail[0], *tail[1::2]])
            break
        parts[key] = segments[index + 1]
    return parts
