"""Alertmanager's always-firing Watchdog alert, posted to /webhooks/alertmanager, is the beat of
the heartbeat named like its alertname; when it stops, the heartbeat's system is paged."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.clock import FrozenClock
from tests.heartbeats.support import HERE, RULES, START, cycle_at, incidents
from tests.support.app import RunningApp, app_settings, incident_detail, running_app

WATCHDOG = (HERE / "fixtures" / "watchdog.json").read_bytes()
LIMIT = timedelta(minutes=6)  # Watchdog: every 5m + grace 1m
SECOND = timedelta(seconds=1)


@pytest.fixture
async def app(database_url: str, clock: FrozenClock) -> AsyncIterator[RunningApp]:
    async with running_app(app_settings(database_url, rules_dir=RULES), clock) as running:
        yield running


async def post_watchdog(app: RunningApp, body: bytes = WATCHDOG) -> None:
    response = await app.client.post(
        "/webhooks/alertmanager", content=body, headers=app.webhook_headers()
    )
    assert response.status_code == 202, response.text
    await app.services.escalation.settle()


def resolved_watchdog() -> bytes:
    payload = json.loads(WATCHDOG)
    payload["status"] = "resolved"
    payload["alerts"][0]["status"] = "resolved"
    return json.dumps(payload).encode()


async def test_watchdog_alerts_are_beats(app: RunningApp, clock: FrozenClock) -> None:
    clock.set(START + timedelta(minutes=4))
    await post_watchdog(app)
    await cycle_at(app, clock, timedelta(minutes=4) + LIMIT)
    assert await incidents(app, system="prometheus") == []
    await cycle_at(app, clock, timedelta(minutes=4) + LIMIT + SECOND)
    [late] = await incidents(app, system="prometheus")
    assert late["summary"].startswith("Heartbeat Watchdog of prometheus is late")
    pages = (await incident_detail(app, late["id"]))["pages"]
    assert [p["engineer"] for p in pages if p["kind"] == "page"] == ["bo"]

    clock.advance(timedelta(minutes=1))
    await post_watchdog(app)
    [closed] = await incidents(app, system="prometheus")
    assert closed["state"] == "resolved"


async def test_a_resolved_watchdog_is_no_beat(app: RunningApp, clock: FrozenClock) -> None:
    clock.set(START + timedelta(minutes=4))
    await post_watchdog(app, resolved_watchdog())
    await cycle_at(app, clock, LIMIT + SECOND)
    assert len(await incidents(app, system="prometheus")) == 1
