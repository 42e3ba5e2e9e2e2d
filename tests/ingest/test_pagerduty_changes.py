"""PagerDuty change events (`POST /v2/change/enqueue`): stored on their system, never paging,
shown on the incidents of that system opened near them, in PagerDuty's answer shape."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.clock import FrozenClock
from app.ingest.pagerduty import parse_change
from app.store.tokens import TokenKind
from tests.ingest.fixture_cases import FIXTURES
from tests.support.app import RunningApp, app_settings, incident_detail, post_generic, running_app
from tests.web.support import browser_client, login

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
DEPLOY = FIXTURES / "pagerduty_change" / "deploy.json"


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[RunningApp]:
    async with running_app(
        app_settings(database_url, session_secret="test-secret"), FrozenClock(START)
    ) as running:
        yield running


async def _change(app: RunningApp, body: dict[str, Any]) -> Any:
    return await app.client.post("/v2/change/enqueue", content=json.dumps(body))


async def _fire(app: RunningApp, key: str, service: str) -> int:
    body = {"summary": f"{key} broke", "dedup_key": key, "severity": "critical"}
    answer = await post_generic(app, body | {"labels": {"service": service}})
    incident_id: int = answer["incidents"][0]
    return incident_id


def test_the_sdk_body_parses_into_a_change_with_labels_and_safe_links() -> None:
    change = parse_change(DEPLOY.read_bytes())
    assert change.summary == "Deploy payments-db migrations v42"
    assert change.labels == {
        "service": "payments-db",
        "build": "42",
        "commit": "9f1c2e7",
        "source": "ci.acme.internal",
    }
    assert change.at == datetime(2026, 11, 25, 9, 58, tzinfo=UTC)
    assert change.links == [{"href": "https://ci.acme.internal/builds/42", "text": "Build 42"}]


async def test_a_change_is_shown_beside_its_systems_incident_and_pages_nobody(
    app: RunningApp,
) -> None:
    answer = await _change(app, json.loads(DEPLOY.read_text()))
    assert answer.status_code == 202
    assert answer.json() == {"status": "success", "message": "Change event processed"}
    listed = await app.client.get("/api/incidents", headers=app.reader_headers())
    assert listed.json()["items"] == [], "a change opens no incident"
    db = await _fire(app, "db-lag", "payments-db")
    other = await _fire(app, "node-down", "other")
    shown = (await incident_detail(app, db))["changes"]
    assert shown == [
        {
            "at": "2026-11-25T09:58:00+00:00",
            "summary": "Deploy payments-db migrations v42",
            "source": "ci.acme.internal",
            "links": [{"href": "https://ci.acme.internal/builds/42", "text": "Build 42"}],
        }
    ]
    assert (await incident_detail(app, other))["changes"] == []
    customer = await app.token(TokenKind.CUSTOMER, "acme")
    seen = await app.client.get(
        f"/api/incidents/{db}", headers={"Authorization": f"Bearer {customer}"}
    )
    assert seen.json()["changes"] == [
        {"at": "2026-11-25T09:58:00+00:00", "summary": "Deploy payments-db migrations v42"}
    ]


async def test_the_incident_page_shows_the_change_in_its_timeline(app: RunningApp) -> None:
    assert (await _change(app, json.loads(DEPLOY.read_text()))).status_code == 202
    db = await _fire(app, "db-lag", "payments-db")
    customer = await app.token(TokenKind.CUSTOMER, "acme")
    for kind, subject, token in (
        ("engineer", "anna", app.engineer_token),
        ("customer", "acme", customer),
    ):
        async with browser_client(app) as client:
            login(client, app, kind, subject, token)
            shown = (await client.get(f"/incidents/{db}")).text
        assert "Deploy payments-db migrations v42" in shown
        assert ("ci.acme.internal" in shown) is (kind == "engineer")


async def test_only_changes_near_the_opening_are_shown(app: RunningApp) -> None:
    deploy = json.loads(DEPLOY.read_text())
    for hours in (-30, -1, 20):
        at = START + timedelta(hours=hours)
        payload = deploy["payload"] | {"summary": f"at {hours:+} h", "timestamp": at.isoformat()}
        assert (await _change(app, deploy | {"payload": payload})).status_code == 202
    db = await _fire(app, "db-lag", "payments-db")
    assert [c["summary"] for c in (await incident_detail(app, db))["changes"]] == ["at -1 h"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"routing_key": "wrong", "payload": {"summary": "x"}}, "Invalid routing key"),
        ({"payload": {"summary": "x"}}, "Invalid routing key"),
        ({"routing_key": "test-webhook-token", "payload": {}}, "payload.summary: required"),
    ],
)
async def test_a_bad_change_is_refused_as_pagerduty_does(
    app: RunningApp, body: dict[str, Any], error: str
) -> None:
    answer = await _change(app, body)
    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"
    assert answer.json()["errors"] == [error]
