"""Google Cloud Monitoring webhook channels (schema 1.2): one event per incident notification."""

from app.core.alert import AlertStatus, ParsedAlert, Severity, severity_from_word
from app.ingest.base import SchemaError
from app.ingest.common import Node, http_url, load_object, non_empty

SOURCE = "gcp"
_VERSIONS = frozenset({"1.1", "1.2"})
_STATUS = {"open": AlertStatus.FIRING, "closed": AlertStatus.RESOLVED}
_SEVERITY = {"critical": Severity.CRITICAL, "error": Severity.CRITICAL, "warning": Severity.WARNING}


def parse(body: bytes) -> list[ParsedAlert]:
    """Normalise an incident notification; the console's test notification gives no event."""
    root = load_object(body)
    version = root.text("version") or ""
    if version.lower() == "test":
        # "Send test notification" carries placeholders: acknowledge it, never page.
        return []
    if version not in _VERSIONS:
        raise SchemaError("version", f"expected schema 1.2, got {version[:20]!r}")
    incident = root.obj("incident")
    status = _STATUS.get((incident.text("state") or "").lower())
    if status is None:
        raise SchemaError("incident.state", "expected open or closed")
    labels = _labels(incident)
    severity, note = _severity(incident.text("severity"), labels.get("severity"))
    policy_name = non_empty(incident.text("policy_name"))
    incident_id = incident.req_text("incident_id")
    return [
        ParsedAlert(
            source=SOURCE,
            dedup_key=f"gcp:{incident_id}",
            status=status,
            severity=severity,
            summary=(
                non_empty(incident.text("summary")) or policy_name or f"GCP incident {incident_id}"
            ),
            labels=labels,
            started_at=incident.time("started_at"),
            ended_at=incident.time("ended_at") if status is AlertStatus.RESOLVED else None,
            source_url=http_url(incident.text("url")),
            runbook_url=_runbook(incident),
            severity_note=note,
        )
    ]


def _severity(word: str | None, user_label: str | None) -> tuple[Severity, str | None]:
    found = _SEVERITY.get((word or "").strip().lower())
    if found is not None:
        return found, None
    # "No severity" (or none at all): the policy's user labels are how teams set one.
    return severity_from_word(user_label)


def _labels(incident: Node) -> dict[str, str]:
    labels = incident.labels("policy_user_labels")
    resource = incident.opt_obj("resource")
    metric = incident.opt_obj("metric")
    metadata = incident.opt_obj("metadata")
    if resource:
        labels |= _prefixed("resource", resource.labels("labels"))
    if metric:
        labels |= _prefixed("metric", metric.labels("labels"))
    if metadata:
        labels |= _prefixed("metadata.system", metadata.loose_labels("system_labels"))
        labels |= _prefixed("metadata.user", metadata.labels("user_labels"))
    fixed = {
        "policy_name": incident.text("policy_name"),
        "condition_name": incident.text("condition_name"),
        "scoping_project_id": incident.text("scoping_project_id"),
        "resource_type": resource.text("type") if resource else None,
        "metric_type": metric.text("type") if metric else None,
    }
    labels |= {key: value for key, value in fixed.items() if value}
    return labels


def _prefixed(prefix: str, labels: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}.{key}": value for key, value in labels.items()}


def _runbook(incident: Node) -> str | None:
    # `documentation` is an object with playbook links, but a plain string in test bodies.
    documentation = incident.value.get("documentation")
    if not isinstance(documentation, dict):
        return None
    for link in Node(documentation, "incident.documentation").objects("links"):
        url = http_url(link.text("url"))
        if url is not None:
            return url
    return None
