"""Alertmanager API v2 postable alerts: Alertmanager's own fingerprints, read as of a time."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.core.alert import AlertStatus, Severity
from app.ingest.base import SchemaError
from app.ingest.postable import RESOLVE_TIMEOUT, fingerprint, parse_postable
from app.ingest.registry import parser_for

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # Read back from a running Alertmanager 0.25 (GET /api/v2/alerts after posting them).
        (
            {"alertname": "E2EDiskFull", "instance": "db-1:9100", "severity": "page"},
            "8d27f44a15d6e3f9",
        ),
        ({"a": "b"}, "d2b371819297f98a"),
        ({"alertname": "Ünïcode"}, "3d43075cf5396da2"),
        ({"alertname": "A", "b": "cÿ"}, "cafe4aab707514f4"),
        ({}, "cbf29ce484222325"),  # FNV-1a's offset basis: model.emptyLabelSignature
    ],
)
def test_fingerprint_is_alertmanagers(labels: dict[str, str], expected: str) -> None:
    assert fingerprint(labels) == expected


def _body(*alerts: dict[str, object]) -> bytes:
    return json.dumps(list(alerts)).encode()


def test_a_firing_alert_expires_at_its_ends_at() -> None:
    ends = NOW + timedelta(minutes=4)
    [alert] = parse_postable(
        _body(
            {
                "labels": {"alertname": "DiskFull", "severity": "critical", "empty": ""},
                "annotations": {"summary": "disk full", "runbook_url": "https://run/disk"},
                "startsAt": "2026-12-04T11:50:00Z",
                "endsAt": ends.isoformat(),
                "generatorURL": "http://prometheus:9090/graph?g0.expr=disk",
            }
        ),
        NOW,
    )
    assert alert.source == "alertmanager"
    assert (
        alert.dedup_key
        == f"alertmanager:{fingerprint({'alertname': 'DiskFull', 'severity': 'critical'})}"
    )
    assert alert.labels == {"alertname": "DiskFull", "severity": "critical"}  # empty dropped
    assert (alert.status, alert.severity, alert.summary) == (
        AlertStatus.FIRING,
        Severity.CRITICAL,
        "disk full",
    )
    assert alert.started_at == datetime(2026, 12, 4, 11, 50, tzinfo=UTC)
    assert (alert.ended_at, alert.expires_at) == (None, ends)
    assert alert.runbook_url == "https://run/disk"
    assert alert.source_url == "http://prometheus:9090/graph?g0.expr=disk"


def test_an_ends_at_past_is_a_resolve_and_none_is_the_resolve_timeout() -> None:
    ended = NOW - timedelta(seconds=5)
    resolved, timeout = parse_postable(
        _body(
            {"labels": {"alertname": "A"}, "endsAt": ended.isoformat()},
            {"labels": {"alertname": "B"}},
        ),
        NOW,
    )
    assert (resolved.status, resolved.ended_at, resolved.expires_at) == (
        AlertStatus.RESOLVED,
        ended,
        None,
    )
    assert resolved.started_at == ended  # as Alertmanager: no startsAt, an endsAt
    assert (timeout.status, timeout.started_at) == (AlertStatus.FIRING, NOW)
    assert timeout.expires_at == NOW + RESOLVE_TIMEOUT
    assert timeout.summary == "B"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'[{"labels": {"a": ""}}]', "[0].labels"),
        (b'[{"annotations": {}}]', "[0].labels"),
        (
            b'[{"labels": {"a": "b"}, "startsAt": "2026-12-04T12:00:00Z",'
            b' "endsAt": "2026-12-04T11:00:00Z"}]',
            "[0].endsAt",
        ),
        (b'{"alerts": []}', "body"),
    ],
)
def test_malformed_alerts_are_refused(body: bytes, field: str) -> None:
    with pytest.raises(SchemaError) as refused:
        parse_postable(body, NOW)
    assert refused.value.field == field


def test_the_alertmanager_source_replays_a_postable_body() -> None:
    parse = parser_for("alertmanager")
    assert parse is not None
    [alert] = parse(_body({"labels": {"alertname": "Replayed"}}))
    assert alert.dedup_key == f"alertmanager:{fingerprint({'alertname': 'Replayed'})}"
    assert alert.status == AlertStatus.FIRING
