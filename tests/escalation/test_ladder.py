"""The ladder over time with a frozen clock: who is paged at each step and when; acts stop it."""

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.clock import FrozenClock
from tests.support.app import (
    RunningApp,
    app_settings,
    fire_service,
    incident_detail,
    run_minutes,
    running_app,
)

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LADDER_RULES = Path(__file__).parent.parent / "fixtures" / "rules_ladder"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(database_url: str, clock: FrozenClock) -> AsyncIterator[RunningApp]:
    settings = app_settings(database_url, rules_dir=LADDER_RULES)
    async with running_app(settings, clock) as running:
        yield running


async def schedule(app: RunningApp, incident_id: int) -> dict[int, list[str]]:
    """Minute after START → engineers paged then (page kind only)."""
    paged: dict[int, list[str]] = defaultdict(list)
    for page in (await incident_detail(app, incident_id))["pages"]:
        if page["kind"] == "page":
            assert page["status"] == "sent", page
            at = datetime.fromisoformat(page["created_at"])
            paged[int((at - START).total_seconds() // 60)].append(page["engineer"])
    return {minute: sorted(names) for minute, names in paged.items()}


async def test_full_ladder_then_exhausted(app: RunningApp, clock: FrozenClock) -> None:
    incident_id = await fire_service(app, "db", "db-down")
    await run_minutes(app, clock, 100)
    assert await schedule(app, incident_id) == {
        0: ["bo"],  # first
        5: ["carl"],  # next
        10: ["dana", "erik"],  # all
        15: ["anna"],  # lead
        20: ["bo"],  # repeat: 1 → the ladder once more
        25: ["carl"],
        30: ["dana", "erik"],
        35: ["anna"],
        65: ["anna"],  # exhausted: the lead every 30 min
        95: ["anna"],
    }
    found = await incident_detail(app, incident_id)
    assert found["exhausted"] is True
    assert found["state"] == "triggered"


async def test_ack_stops_the_ladder_while_a_control_keeps_escalating(
    app: RunningApp, clock: FrozenClock
) -> None:
    acked = await fire_service(app, "db", "db-down")
    control = await fire_service(app, "cache", "cache-down")
    await run_minutes(app, clock, 6)
    response = await app.client.post(
        f"/api/incidents/{acked}/ack", headers=app.reader_headers(), json={"note": "on it"}
    )
    assert response.json() == {"id": acked, "state": "acknowledged", "changed": True}
    again = await app.client.post(f"/api/incidents/{acked}/ack", headers=app.reader_headers())
    assert again.json()["changed"] is False
    await run_minutes(app, clock, 30)
    assert await schedule(app, acked) == {0: ["bo"], 5: ["carl"]}
    assert sorted(await schedule(app, control)) == [0, 5, 10, 15, 20, 25, 30, 35]
    timeline = [(e["kind"], e["actor"]) for e in (await incident_detail(app, acked))["timeline"]]
    assert timeline.count(("acknowledged", "anna")) == 1


async def test_ack_reminder_then_retrigger(app: RunningApp, clock: FrozenClock) -> None:
    incident_id = await fire_service(app, "db", "db-down")
    await app.client.post(f"/api/incidents/{incident_id}/ack", headers=app.reader_headers())
    await run_minutes(app, clock, 60)
    found = await incident_detail(app, incident_id)
    reminders = [p for p in found["pages"] if p["kind"] == "reminder"]
    assert [(p["engineer"], p["created_at"]) for p in reminders] == [
        ("anna", (START + timedelta(minutes=60)).isoformat())
    ]
    await run_minutes(app, clock, 5)  # not confirmed within ack_timeout → paged again
    found = await incident_detail(app, incident_id)
    assert found["state"] == "triggered"
    new_cycle = [p for p in found["pages"] if p["kind"] == "page" and p["cycle"] == 2]
    assert [p["engineer"] for p in new_cycle] == ["bo"]


async def test_escalate_snooze_handover_and_resolve(app: RunningApp, clock: FrozenClock) -> None:
    incident_id = await fire_service(app, "db", "db-down")
    headers = app.reader_headers()
    await app.client.post(f"/api/incidents/{incident_id}/escalate", headers=headers)
    await app.services.escalation.settle()
    assert await schedule(app, incident_id) == {0: ["bo", "carl"]}
    snoozed = await app.client.post(
        f"/api/incidents/{incident_id}/snooze", headers=headers, json={"minutes": 10}
    )
    assert snoozed.json()["state"] == "snoozed"
    await run_minutes(app, clock, 9)
    assert (await incident_detail(app, incident_id))["state"] == "snoozed"
    await run_minutes(app, clock, 1)
    assert (await schedule(app, incident_id))[10] == ["bo"]  # a new cycle from the top
    over = await app.client.post(
        f"/api/incidents/{incident_id}/handover", headers=headers, json={"to": "erik"}
    )
    assert over.json()["state"] == "triggered"
    await app.services.escalation.settle()
    assert (await schedule(app, incident_id))[10] == ["bo", "erik"]
    unknown = await app.client.post(
        f"/api/incidents/{incident_id}/handover", headers=headers, json={"to": "zed"}
    )
    assert unknown.status_code == 409
    done = await app.client.post(f"/api/incidents/{incident_id}/resolve", headers=headers)
    assert done.json()["state"] == "resolved"
    await app.services.escalation.settle()
    await run_minutes(app, clock, 1)
    found = await incident_detail(app, incident_id)
    notes = sorted(p["engineer"] for p in found["pages"] if p["kind"] == "resolved-note")
    assert notes == ["bo", "carl", "erik"]
    late = await app.client.post(f"/api/incidents/{incident_id}/snooze", headers=headers)
    assert late.status_code == 409
    await run_minutes(app, clock, 60)
    assert sorted(await schedule(app, incident_id)) == [0, 10]
