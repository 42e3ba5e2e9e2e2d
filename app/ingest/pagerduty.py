"""PagerDuty Events API v2 as an inbound format (trigger, acknowledge, resolve).

The `routing_key` may be our webhook token, so it is read only by `routing_key_of` for
authentication and never reaches a ParsedAlert.

Labels, for routing: the flat scalar fields of `payload.custom_details`, then `source`,
`component`, `group` and `class`. Alertmanager's `pagerduty_configs` sends its alerts' labels
only as text (`custom_details.firing`, "Labels:\n - name = value"): the labels every alert listed
there shares are recovered from it, as its CommonLabels.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.core.alert import AlertStatus, ParsedAlert, Severity
from app.ingest.base import SchemaError
from app.ingest.common import Node, http_url, load_object, non_empty, scalar_text

SOURCE = "pagerduty"
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_LINKS = 10
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
}


class EventAction(StrEnum):
    """The `event_action` of an Events v2 request."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


_STATUS = {
    EventAction.TRIGGER: AlertStatus.FIRING,
    EventAction.ACKNOWLEDGE: AlertStatus.ACKNOWLEDGED,
    EventAction.RESOLVE: AlertStatus.RESOLVED,
}


@dataclass(frozen=True, slots=True)
class PagerDutyEvent:
    """One event: `dedup_key` is the bare key to answer with (generated for a keyless trigger)."""

    action: EventAction
    dedup_key: str
    alert: ParsedAlert


def _new_key() -> str:
    return str(uuid.uuid4())


def routing_key_of(body: bytes) -> str | None:
    """The body's routing_key for authentication, or None if absent or not a string."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(decoded, dict):
        return None
    key = decoded.get("routing_key")
    return key if isinstance(key, str) and key else None


def parse(body: bytes) -> list[ParsedAlert]:
    """Normalise one Events v2 request into one event."""
    return [parse_event(body).alert]


def parse_event(body: bytes, *, new_key: Callable[[], str] = _new_key) -> PagerDutyEvent:
    """Parse and validate an Events v2 request; `new_key` names a trigger that has no dedup_key."""
    root = _keyed(body)
    action = _action(root.text("event_action"))
    payload = root.opt_obj("payload")
    if action is EventAction.TRIGGER:
        payload = _trigger_payload(root)
    dedup_key = _dedup_key(root, action, new_key)
    severity, note = _severity(payload, required=action is EventAction.TRIGGER)
    summary = non_empty(payload.text("summary")) if payload else None
    alert = ParsedAlert(
        source=SOURCE,
        dedup_key=f"pagerduty:{dedup_key}",
        status=_STATUS[action],
        severity=severity,
        summary=(summary or f"PagerDuty {action.value}: {dedup_key}")[:MAX_SUMMARY],
        labels=_labels(payload),
        started_at=payload.time("timestamp") if payload else None,
        source_url=http_url(root.text("client_url")),
        runbook_url=_runbook(root),
        severity_note=note,
    )
    return PagerDutyEvent(action=action, dedup_key=dedup_key, alert=alert)


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A change event (`POST /v2/change/enqueue`): a deploy or other change, never an alert."""

    summary: str
    source: str | None
    at: datetime | None
    labels: dict[str, str]
    links: list[dict[str, str]]


def parse_change(body: bytes) -> ChangeEvent:
    """Parse and validate a change event; its labels are read as an alert's are."""
    root = _keyed(body)
    payload = root.obj("payload")
    return ChangeEvent(
        summary=payload.req_text("summary")[:MAX_SUMMARY],
        source=non_empty(payload.text("source")),
        at=payload.time("timestamp"),
        labels=_labels(payload),
        links=_links(root),
    )


def _links(root: Node) -> list[dict[str, str]]:
    """The http(s) links, each with its text (the address when it has none); at most ten."""
    found = []
    for link in root.objects("links"):
        href = http_url(link.text("href"))
        if href is not None:
            found.append({"href": href, "text": non_empty(link.text("text")) or href})
    return found[:MAX_LINKS]


def _keyed(body: bytes) -> Node:
    """The body as an object that has a routing_key (an event without one is invalid)."""
    root = load_object(body)
    routing_key = root.value.get("routing_key")
    if not isinstance(routing_key, str) or not routing_key:
        raise SchemaError("routing_key", "required")
    return root


def _action(word: str | None) -> EventAction:
    try:
        return EventAction(word or "")
    except ValueError:
        raise SchemaError("event_action", "expected trigger, acknowledge or resolve") from None


def _dedup_key(root: Node, action: EventAction, new_key: Callable[[], str]) -> str:
    key = non_empty(root.text("dedup_key"))
    if key is None:
        if action is not EventAction.TRIGGER:
            raise SchemaError("dedup_key", f"required for {action.value}")
        return new_key()
    if len(key) > MAX_DEDUP_KEY:
        raise SchemaError("dedup_key", f"longer than {MAX_DEDUP_KEY} characters")
    return key


def _severity(payload: Node | None, *, required: bool) -> tuple[Severity, str | None]:
    word = payload.text("severity") if payload else None
    if word is None and not required:
        # Ack and resolve carry no payload: the open alert keeps its own severity.
        return Severity.WARNING, "event carries no severity; the open alert's applies"
    found = _SEVERITY.get(word or "")
    if found is None:
        raise SchemaError("payload.severity", "expected critical, error, warning or info")
    return found, None


def _trigger_payload(root: Node) -> Node:
    payload = root.obj("payload")
    payload.req_text("summary")
    payload.req_text("source")
    return payload


def _labels(payload: Node | None) -> dict[str, str]:
    if payload is None:
        return {}
    details = payload.value.get("custom_details")
    labels = _detail_labels(details) if isinstance(details, dict) else {}
    found = {key: payload.text(key) for key in ("source", "component", "group", "class")}
    return labels | {key: value for key, value in found.items() if value}


# What Alertmanager's pagerduty_configs puts in custom_details unless told otherwise.
_ALERTMANAGER_DETAILS = frozenset({"firing", "resolved", "num_firing", "num_resolved"})


def _detail_labels(details: dict[str, object]) -> dict[str, str]:
    """Labels from custom_details: Alertmanager's listed labels, then every flat scalar field
    (nested objects, lists, empty and multi-line text are details, not labels)."""
    labels: dict[str, str] = {}
    if details.keys() >= _ALERTMANAGER_DETAILS:
        listed = details["firing"] or details["resolved"]
        labels = _common_labels(listed) if isinstance(listed, str) else {}
    for key, value in details.items():
        if key in _ALERTMANAGER_DETAILS or not isinstance(value, str | int | float | bool):
            continue
        text = scalar_text(value, f"payload.custom_details.{key}")
        if text.strip() and "\n" not in text:
            labels[key] = text
    return labels


def _common_labels(listed: str) -> dict[str, str]:
    """The labels shared by every alert of Alertmanager's default alert list text."""
    common: dict[str, str] | None = None
    for block in listed.split("Labels:\n")[1:]:
        pairs = block.split("Annotations:", 1)[0].splitlines()
        labels = dict(pair.removeprefix(" - ").split(" = ", 1) for pair in pairs if " = " in pair)
        common = labels if common is None else dict(sorted(common.items() & labels.items()))
    return common or {}


def _runbook(root: Node) -> str | None:
    for link in root.objects("links"):
        if "runbook" in (link.text("text") or "").lower():
            return http_url(link.text("href"))
    return None
