"""Datadog Webhooks integration: our recommended template or the tile's default one.

Every value is a template-rendered string; variables that do not apply render as "".
"""

import re
from dataclasses import dataclass

from app.core.alert import AlertStatus, ParsedAlert, Severity
from app.ingest.base import SchemaError
from app.ingest.common import Node, http_url, load_object, non_empty

SOURCE = "datadog"
_PRIORITY_PREFIX = re.compile(r"\[P[1-5]\]\s*")
_PRIORITY = {
    "p1": Severity.CRITICAL,
    "p2": Severity.CRITICAL,
    "p3": Severity.WARNING,
    "p4": Severity.INFO,
    "p5": Severity.INFO,
}
_ALERT_TYPE = {
    "error": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
    "success": Severity.INFO,
}


def parse(body: bytes) -> list[ParsedAlert]:
    """Normalise one Datadog notification into one event."""
    root = load_object(body)
    raw_title = (root.text("title") or "").strip()
    title = _split_title(raw_title)
    transition = non_empty(root.text("alert_transition"))
    if transition is not None:
        resolved = transition.lower() == "recovered"
    else:
        resolved = title is not None and title.transition.lower().startswith("recovered")
    status = AlertStatus.RESOLVED if resolved else AlertStatus.FIRING
    severity, note = _severity(root, transition, resolved=resolved)
    summary = title.name if title else raw_title
    return [
        ParsedAlert(
            source=SOURCE,
            dedup_key=_dedup_key(root, title),
            status=status,
            severity=severity,
            summary=summary or non_empty(root.text("alert_title")) or "Datadog alert",
            labels=_labels(root),
            started_at=None if resolved else root.time("date"),
            ended_at=root.time("date") if resolved else None,
            source_url=http_url(root.text("link")),
            severity_note=note,
        )
    ]


@dataclass(frozen=True, slots=True)
class _Title:
    transition: str
    scope: str
    name: str


def _split_title(title: str) -> _Title | None:
    """Split "[P1] [Triggered on {scope}] Name" into its parts (None without the prefix)."""
    # Plain string scanning, not one regex: titles are sender-controlled and may be huge.
    priority = _PRIORITY_PREFIX.match(title)
    rest = title[priority.end() :] if priority else title
    end = rest.find("]")
    if not rest.startswith("[") or end < 0:
        return None
    transition, _, scope = rest[1:end].partition(" on ")
    return _Title(transition.strip(), scope.strip(), rest[end + 1 :].strip())


def _dedup_key(root: Node, title: _Title | None) -> str:
    aggreg_key = non_empty(root.text("aggreg_key"))
    if aggreg_key is not None:
        return f"datadog:{aggreg_key}"
    alert_id = non_empty(root.text("alert_id"))
    if alert_id is not None:
        return f"datadog:{alert_id}:{root.text('alert_scope') or ''}"
    # The tile's default template has no id at all: the monitor name and scope in the title are
    # the only stable parts.
    org = root.opt_obj("org")
    org_id = non_empty(org.text("id")) if org else None
    if org_id is None:
        raise SchemaError("org.id", "required when the payload has no aggreg_key or alert_id")
    if title is None:
        raise SchemaError("title", "expected '[Transition( on scope)?] name'")
    return f"datadog:{org_id}:{title.name}|{title.scope}"


def _severity(root: Node, transition: str | None, *, resolved: bool) -> tuple[Severity, str | None]:
    if transition is not None and transition.lower() in ("warn", "re-warn"):
        return Severity.WARNING, None
    priority = _PRIORITY.get((root.text("alert_priority") or "").strip().lower())
    if priority is not None:
        return priority, None
    alert_type = (root.text("alert_type") or "").strip().lower()
    # A recovery's alert_type is "success": it says nothing about the condition it clears.
    if not (resolved and alert_type == "success"):
        found = _ALERT_TYPE.get(alert_type)
        if found is not None:
            return found, None
    return Severity.WARNING, "no priority or alert type given; treated as warning"


def _labels(root: Node) -> dict[str, str]:
    labels: dict[str, str] = {}
    for tag in (root.text("tags") or "").split(","):
        tag = tag.strip()
        if not tag:
            continue
        key, _, value = tag.partition(":")
        # Tags may repeat a key (region:a,region:b): keep every value, in arrival order.
        labels[key] = f"{labels[key]},{value}" if key in labels else value
    org = root.opt_obj("org")
    fixed = {"alert_id": root.text("alert_id"), "org_id": org.text("id") if org else None}
    labels |= {key: value for key, value in fixed.items() if value}
    return labels
