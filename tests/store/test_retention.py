"""Retention: old raw events and their alert links go; alerts, incidents and newer events stay."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cli import main
from app.clock import FrozenClock, SystemClock
from app.store.retention import Retention, prune
from app.store.tables import Alert, AlertRawEvent, ChangeEvent, Incident, RawEvent
from tests.support.app import RunningApp, app_settings, running_app

GENERIC = Path(__file__).parent.parent / "fixtures" / "generic"
KEEP = timedelta(days=30)
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(database_url: str, clock: FrozenClock) -> AsyncIterator[RunningApp]:
    async with running_app(app_settings(database_url), clock) as running:
        yield running


async def post_alert(app: RunningApp, dedup_key: str, status: str = "firing") -> int:
    body = json.loads((GENERIC / "single_object.json").read_text())
    body |= {"dedup_key": dedup_key, "status": status}
    response = await app.client.post("/webhooks/generic", json=body, headers=app.webhook_headers())
    assert response.status_code == 202, response.text
    [alert_id] = response.json()["alerts"]
    return int(alert_id)


async def count(app: RunningApp, table: type[object]) -> int:
    async with app.services.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def linked_raw_ids(app: RunningApp) -> set[int]:
    async with app.services.engine.connect() as conn:
        return set(await conn.scalars(select(AlertRawEvent.raw_event_id)))


async def test_old_raw_events_go_with_their_links_alerts_and_incidents_stay(
    app: RunningApp, clock: FrozenClock
) -> None:
    old_alert = await post_alert(app, "disk-1")
    await post_alert(app, "disk-1")  # a repeat: a second raw event on the same alert
    await post_alert(app, "disk-2")
    clock.advance(timedelta(days=2))
    recent_alert = await post_alert(app, "disk-1", "resolved")
    alerts, incidents = await count(app, Alert), await count(app, Incident)
    assert (await count(app, RawEvent), incidents) == (4, 1)

    clock.advance(KEEP - timedelta(days=1))  # the first three are 31 days old, the last 29
    deleted = await prune(app.services.db, now=clock.now(), keep=KEEP, batch_size=2)

    assert deleted == 3
    assert await count(app, RawEvent) == 1
    assert (await count(app, Alert), await count(app, Incident)) == (alerts, incidents)
    async with app.services.engine.connect() as conn:
        [kept] = await conn.scalars(select(RawEvent.id))
    assert await linked_raw_ids(app) == {kept}
    assert recent_alert == old_alert  # the resolve closed the same row
    # Idempotent: a second run (or another replica's) finds nothing left to delete.
    assert await prune(app.services.db, now=clock.now(), keep=KEEP) == 0


async def test_api_still_serves_an_alert_whose_raw_events_were_pruned(
    app: RunningApp, clock: FrozenClock
) -> None:
    alert_id = await post_alert(app, "disk-1")
    clock.advance(KEEP + timedelta(seconds=1))
    assert await prune(app.services.db, now=clock.now(), keep=KEEP) == 1

    response = await app.client.get(f"/api/alerts/{alert_id}", headers=app.reader_headers())
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["dedup_key"], body["raw_events"]) == (alert_id, "generic:disk-1", [])
    incident_id = body["incident_id"]
    assert incident_id is not None
    incident = await app.client.get(f"/api/incidents/{incident_id}", headers=app.reader_headers())
    assert incident.status_code == 200


async def test_events_younger_than_the_limit_stay(app: RunningApp, clock: FrozenClock) -> None:
    await post_alert(app, "disk-1")
    clock.advance(KEEP - timedelta(seconds=1))
    assert await prune(app.services.db, now=clock.now(), keep=KEEP) == 0
    assert await count(app, RawEvent) == 1


async def test_the_daily_job_prunes_after_startup(app: RunningApp, clock: FrozenClock) -> None:
    await post_alert(app, "disk-1")
    clock.advance(KEEP + timedelta(days=1))
    retention = Retention(app.services.db, clock=clock, keep=KEEP, first_after=timedelta(0))
    retention.start()
    try:
        for _ in range(200):
            if await count(app, RawEvent) == 0:
                break
            await asyncio.sleep(0.01)
    finally:
        await retention.stop()
    assert await count(app, RawEvent) == 0
    assert await count(app, Alert) == 1


async def test_change_events_go_after_ninety_days(app: RunningApp, clock: FrozenClock) -> None:
    change = {"routing_key": "test-webhook-token", "payload": {"summary": "deploy v1"}}
    response = await app.client.post("/v2/change/enqueue", json=change)
    assert response.status_code == 202, response.text
    clock.advance(timedelta(days=89))
    await prune(app.services.db, now=clock.now(), keep=KEEP)
    assert await count(app, ChangeEvent) == 1
    clock.advance(timedelta(days=2))
    await prune(app.services.db, now=clock.now(), keep=KEEP)
    assert await count(app, ChangeEvent) == 0


def test_cli_prune_prints_the_count(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed() -> None:
        clock = FrozenClock(SystemClock().now() - KEEP - timedelta(days=5))
        async with running_app(app_settings(database_url), clock) as running:
            await post_alert(running, "disk-1")
            await post_alert(running, "disk-2")

    asyncio.run(seed())
    monkeypatch.setenv("SKILLPAGER_DATABASE_URL", database_url)
    assert main(["prune"]) == 0
    assert capsys.readouterr().out.strip() == "pruned 2 raw events older than 30 days"
    assert main(["prune"]) == 0
    assert capsys.readouterr().out.strip() == "pruned 0 raw events older than 30 days"
