"""Heartbeats over time with a frozen clock: a late one opens an incident routed to its system,
pages its expert, and the next beat resolves it; restarts neither lose nor double it."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.clock import FrozenClock
from app.config import Settings
from app.store.tokens import TokenKind
from tests.heartbeats.support import RULES, START, beat, cycle_at, incidents
from tests.support.app import RunningApp, app_settings, incident_detail, running_app

LIMIT = timedelta(minutes=12)  # nightly-backup: every 10m + grace 2m
SECOND = timedelta(seconds=1)


def settings(database_url: str) -> Settings:
    # Both heartbeats page bo by SMS at once: no per-engineer SMS spacing here.
    return app_settings(database_url, rules_dir=RULES, sms_min_interval="0", sms_per_15min=0)


@pytest.fixture
async def app(database_url: str, clock: FrozenClock) -> AsyncIterator[RunningApp]:
    async with running_app(settings(database_url), clock) as running:
        yield running


async def test_missed_beat_pages_then_next_beat_resolves(
    app: RunningApp, clock: FrozenClock
) -> None:
    await cycle_at(app, clock, LIMIT)
    assert await incidents(app, system="backup") == []  # late by exactly the grace: not yet
    await cycle_at(app, clock, LIMIT + SECOND)
    [opened] = await incidents(app, system="backup")
    assert opened["state"] == "triggered"
    assert opened["severity"] == "critical"
    assert opened["summary"].startswith("Heartbeat nightly-backup of backup is late: no beat yet")
    pages = (await incident_detail(app, opened["id"]))["pages"]
    assert [(p["engineer"], p["channel"], p["status"]) for p in pages] == [("bo", "sms", "sent")]
    await cycle_at(app, clock, LIMIT + 5 * SECOND)
    assert len(await incidents(app, system="backup")) == 1  # idempotent: nothing new

    clock.advance(timedelta(minutes=1))
    answer = await beat(app, "nightly-backup")
    assert answer.status_code == 200
    assert answer.json() == {
        "heartbeat": "nightly-backup",
        "system": "backup",
        "resolved": True,
        "due_at": (clock.now() + LIMIT).isoformat(),
    }
    [closed] = await incidents(app, system="backup")
    assert closed["state"] == "resolved"
    assert (await beat(app, "nightly-backup")).json()["resolved"] is False


async def test_beats_in_time_keep_it_quiet(app: RunningApp, clock: FrozenClock) -> None:
    clock.set(START + timedelta(minutes=10))
    await beat(app, "nightly-backup")
    await cycle_at(app, clock, timedelta(minutes=10) + LIMIT)
    assert await incidents(app, system="backup") == []
    await cycle_at(app, clock, timedelta(minutes=10) + LIMIT + SECOND)
    [late] = await incidents(app, system="backup")
    assert "no beat since 2026-11-25T10:10:00+00:00" in late["summary"]


async def test_beat_endpoint_auth(app: RunningApp) -> None:
    assert (await app.client.post("/heartbeats/nightly-backup")).status_code == 401
    generic = await app.token(TokenKind.WEBHOOK, "generic")
    assert (await beat(app, "nightly-backup", generic)).status_code == 403
    scoped = await app.token(TokenKind.WEBHOOK, "heartbeat")
    assert (await beat(app, "nightly-backup", scoped)).status_code == 200
    unknown = await beat(app, "no-such-beat", scoped)
    assert unknown.status_code == 404
    assert "no-such-beat" in unknown.json()["error"]


async def test_restart_keeps_one_incident(sqlite_database: str, clock: FrozenClock) -> None:
    async with running_app(settings(sqlite_database), clock) as first:
        await cycle_at(first, clock, LIMIT + SECOND)
        assert len(await incidents(first, system="backup")) == 1
    clock.advance(timedelta(hours=1))
    async with running_app(settings(sqlite_database), clock) as second:
        await cycle_at(second, clock, timedelta(hours=1) + LIMIT + 2 * SECOND)
        [still] = await incidents(second, system="backup")
        assert still["state"] == "triggered"
        assert (await beat(second, "nightly-backup")).json()["resolved"] is True
        [done] = await incidents(second, system="backup")
        assert done["state"] == "resolved"


async def test_no_alarm_for_silence_while_we_were_down(
    sqlite_database: str, clock: FrozenClock
) -> None:
    async with running_app(settings(sqlite_database), clock) as first:
        await beat(first, "nightly-backup")
    clock.advance(timedelta(hours=3))  # down for three hours: nobody could beat
    async with running_app(settings(sqlite_database), clock) as second:
        await cycle_at(second, clock, timedelta(hours=3) + LIMIT)
        assert await incidents(second, system="backup") == []
        await cycle_at(second, clock, timedelta(hours=3) + LIMIT + SECOND)
        assert len(await incidents(second, system="backup")) == 1
