"""Every source over real HTTP: accepted fixtures store alerts, rejections answer 4xx, never 500."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.ingest.fixture_cases import cases, expected
from tests.support.app import WEBHOOK_TOKEN, RunningApp

TOKEN_SOURCES = ["alertmanager", "generic", "grafana", "azure", "gcp", "datadog", "pagerduty"]
ACCEPTED = [(s, p) for s in TOKEN_SOURCES for p in cases(s, rejects=False)]
REJECTED = [(s, p) for s in TOKEN_SOURCES for p in cases(s, rejects=True)]


def _id(value: object) -> str:
    return value.stem if isinstance(value, Path) else str(value)


@pytest.mark.parametrize(("source", "body_file"), ACCEPTED, ids=_id)
async def test_accepted_fixture_is_stored(
    sqlite_app: RunningApp, source: str, body_file: Path
) -> None:
    body = body_file.read_bytes()  # noqa: ASYNC240 - a small fixture file
    response = await sqlite_app.client.post(
        f"/webhooks/{source}", content=body, headers=sqlite_app.webhook_headers()
    )
    assert response.status_code == 202, response.text
    want = expected(body_file)["alerts"]
    if source == "pagerduty":
        assert response.json()["status"] == "success"
        return
    stored = [a for a in want if a["status"] != "acknowledged"]
    assert len(set(response.json()["alerts"])) == len({a["dedup_key"] for a in stored})


@pytest.mark.parametrize(("source", "body_file"), REJECTED, ids=_id)
async def test_rejected_fixture_answers_4xx(
    sqlite_app: RunningApp, source: str, body_file: Path
) -> None:
    want = expected(body_file)
    body = body_file.read_bytes()  # noqa: ASYNC240 - a small fixture file
    response = await sqlite_app.client.post(
        f"/webhooks/{source}", content=body, headers=sqlite_app.webhook_headers()
    )
    answer = response.json()
    if source == "pagerduty":
        # PagerDuty's own error shape, and its status for every invalid event.
        assert response.status_code == 400
        assert answer["status"] == "invalid event"
        assert answer["errors"]
        return
    assert response.status_code == want["status"]
    if want["status"] == 422:
        assert answer["detail"]["field"] == want["field"]


async def _pd(app: RunningApp, event: dict[str, Any], path: str = "/v2/enqueue") -> Any:
    return await app.client.post(path, content=json.dumps(event))


async def test_pagerduty_routing_key_is_the_token_and_never_stored(sqlite_app: RunningApp) -> None:
    event = {
        "routing_key": WEBHOOK_TOKEN,
        "event_action": "trigger",
        "payload": {"summary": "disk full", "source": "db-1", "severity": "error"},
    }
    response = await _pd(sqlite_app, event)
    assert response.status_code == 202
    answer = response.json()
    assert (answer["status"], answer["message"]) == ("success", "Event processed")
    assert len(answer["dedup_key"]) == 36  # a generated UUID, as PagerDuty does
    alerts = await sqlite_app.client.get("/api/alerts", headers=sqlite_app.reader_headers())
    [alert] = alerts.json()["items"]
    assert alert["dedup_key"] == f"pagerduty:{answer['dedup_key']}"
    assert alert["severity"] == "critical"
    assert WEBHOOK_TOKEN not in json.dumps(alert)
    resolve = {"routing_key": WEBHOOK_TOKEN, "event_action": "resolve"}
    resolve["dedup_key"] = answer["dedup_key"]
    assert (await _pd(sqlite_app, resolve, "/webhooks/pagerduty")).status_code == 202
    again = await sqlite_app.client.get("/api/alerts", headers=sqlite_app.reader_headers())
    [closed] = again.json()["items"]
    assert (closed["status"], closed["summary"]) == ("resolved", "disk full")
    for bad in (event | {"routing_key": "not-a-token"}, {"event_action": "trigger"}):
        refused = await _pd(sqlite_app, bad)
        assert refused.status_code == 400, "PagerDuty's answer to an unknown routing key"
        assert refused.json() == {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Invalid routing key"],
        }


async def test_pagerduty_ack_of_unknown_key_stores_no_alert(sqlite_app: RunningApp) -> None:
    ack = {"routing_key": WEBHOOK_TOKEN, "event_action": "acknowledge", "dedup_key": "nope"}
    assert (await _pd(sqlite_app, ack)).status_code == 202
    alerts = await sqlite_app.client.get("/api/alerts", headers=sqlite_app.reader_headers())
    assert alerts.json()["items"] == []
