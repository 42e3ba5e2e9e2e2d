"""CloudWatch alarms delivered by an SNS HTTPS subscription: one event per Notification.

The body is the SNS envelope (see sns.py for its verification); the alarm is the JSON string
in its `Message`, so it is decoded twice.
"""

import json
from urllib.parse import quote

from app.core.alert import AlertStatus, ParsedAlert, Severity
from app.ingest.base import SchemaError
from app.ingest.common import Node, as_node, non_empty
from app.ingest.sns import SnsMessageType, parse_envelope

SOURCE = "cloudwatch"
_STATE_SEVERITY = {"ALARM": Severity.CRITICAL, "INSUFFICIENT_DATA": Severity.WARNING}
_CONSOLES = {
    "aws": "https://console.aws.amazon.com",
    "aws-cn": "https://console.amazonaws.cn",
    "aws-us-gov": "https://console.amazonaws-us-gov.com",
}


def parse(body: bytes) -> list[ParsedAlert]:
    """Normalise an SNS delivery: a Notification gives its alarm, other types give nothing."""
    envelope = parse_envelope(body)
    if envelope.type is not SnsMessageType.NOTIFICATION:
        return []
    return [parse_alarm(envelope.message)]


def parse_alarm(message: str) -> ParsedAlert:
    """Normalise the decoded `Message` string of a CloudWatch alarm notification."""
    alarm = _decode_message(message)
    name = alarm.req_text("AlarmName")
    partition, region, account = _arn_parts(alarm.req_text("AlarmArn"))
    new_state = alarm.req_text("NewStateValue")
    if new_state not in ("ALARM", "OK", "INSUFFICIENT_DATA"):
        raise SchemaError("Message.NewStateValue", "expected ALARM, OK or INSUFFICIENT_DATA")
    resolved = new_state == "OK"
    # An OK clears the state it leaves, so it carries that state's severity.
    severity_state = (alarm.text("OldStateValue") or "") if resolved else new_state
    severity = _STATE_SEVERITY.get(severity_state)
    changed_at = alarm.time("StateChangeTime")
    labels = _trigger_labels(alarm.opt_obj("Trigger"))
    labels |= {
        "alarm_name": name,
        "aws_account_id": non_empty(alarm.text("AWSAccountId")) or account,
        "aws_region": region,
    }
    return ParsedAlert(
        source=SOURCE,
        dedup_key=f"cloudwatch:{alarm.req_text('AlarmArn')}",
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        severity=severity or Severity.WARNING,
        summary=name,
        labels=labels,
        started_at=None if resolved else changed_at,
        ended_at=changed_at if resolved else None,
        source_url=_console_url(partition, region, name),
        severity_note=None if severity else "OK without a prior alarm state; treated as warning",
    )


def _decode_message(message: str) -> Node:
    try:
        decoded = json.loads(message)
    except (ValueError, RecursionError):  # ValueError: also int() digit limits
        raise SchemaError("Message", "not a CloudWatch alarm (JSON expected)") from None
    return as_node(decoded, "Message")


def _arn_parts(arn: str) -> tuple[str, str, str]:
    # arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>
    parts = arn.split(":", 6)
    if len(parts) < 7 or parts[0] != "arn" or not parts[3]:
        raise SchemaError("Message.AlarmArn", "expected arn:<partition>:cloudwatch:<region>:…")
    return parts[1], parts[3], parts[4]


def _trigger_labels(trigger: Node | None) -> dict[str, str]:
    if trigger is None:
        # Composite and some anomaly alarms: name, account and region are all we know.
        return {}
    if trigger.has("MetricName") or trigger.has("Namespace"):
        labels = _dimensions(trigger)
        labels["namespace"] = trigger.text("Namespace") or ""
        labels["metric_name"] = trigger.text("MetricName") or ""
        return labels
    # Metric math: no top-level metric, so take the union of the metrics' dimensions.
    labels = {}
    for metric in trigger.objects("Metrics"):
        stat = metric.opt_obj("MetricStat")
        inner = stat.opt_obj("Metric") if stat else None
        if inner is not None:
            labels |= _dimensions(inner)
    return labels


def _dimensions(metric: Node) -> dict[str, str]:
    labels = {}
    for dimension in metric.objects("Dimensions"):
        # The alarm message spells them name/value; the CloudWatch API spells Name/Value.
        name = dimension.text("name") or dimension.text("Name")
        if name:
            labels[name] = dimension.text("value") or dimension.text("Value") or ""
    return labels


def _console_url(partition: str, region: str, name: str) -> str | None:
    console = _CONSOLES.get(partition)
    if console is None:
        return None
    return f"{console}/cloudwatch/home?region={quote(region)}#alarmsV2:alarm/{quote(name, safe='')}"
