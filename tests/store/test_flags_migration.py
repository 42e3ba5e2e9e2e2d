"""Migration 0008 carries the flat incident flags of earlier versions into the typed shape the
incident core reads, and its downgrade writes them back."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select

from app.incidents.model import IncidentFlags
from app.store.migrate import alembic_config, upgrade_to_head
from app.store.session import make_engine
from app.store.tables import Incident
from tests.support.databases import PostgresDatabases, sqlite_url

OPENED = datetime(2026, 12, 1, 3, 12, tzinfo=UTC)
FLAT: dict[str, dict[str, Any]] = {
    "storm": {
        "events": 1240,
        "keys": 500,
        "recent": ["disk full on db-3", "disk full on db-2"],
        "rate_start": "2026-12-01T03:12:00+00:00",
        "rate_count": 1240,
        "storm": True,
        "storm_rate": 1240,
        "storm_said": True,
        "exhausted": True,
        "reminded_at": "2026-12-01T03:20:00+00:00",
        "reminders": 2,
    },
    "held": {
        "suppressed": True,
        "suppressed_by": 7,
        "maintenance": "2026-12-01T05:00:00+00:00",
        "silenced_until": "2026-12-01T04:00:00+00:00",
        "flapping": True,
        "flapping_keys": ["k1"],
        "flapping_until": "2026-12-01T03:40:00+00:00",
    },
    "plain": {},
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.empty()


async def _insert(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        for group, flags in FLAT.items():
            values = {
                "group_key": group,
                "state": "triggered",
                "severity": "critical",
                "summary": group,
                "unrouted": False,
                "alert_count": 1,
                "opened_at": OPENED,
                "decision": {},
                "rules_version": "v",
                "cycle": 1,
                "step_index": 0,
                "round": 0,
                "flags": flags,
            }
            await conn.execute(insert(Incident), values)
    await engine.dispose()


async def _flags(url: str) -> dict[str, dict[str, Any]]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(select(Incident.group_key, Incident.flags))
        found = {str(group): dict(flags) for group, flags in rows}
    await engine.dispose()
    return found


def test_0008_types_the_flags_of_stored_incidents_and_downgrades(empty_database: str) -> None:
    url = empty_database
    config = alembic_config(url)
    command.upgrade(config, "0007")
    asyncio.run(_insert(url))

    upgrade_to_head(url)
    stored = asyncio.run(_flags(url))
    storm = IncidentFlags.from_json(stored["storm"])
    assert (storm.storm.events, storm.storm.keys, storm.storm.peak_rate) == (1240, 500, 1240)
    assert storm.storm.recent == ("disk full on db-3", "disk full on db-2")
    assert storm.storm.told
    assert storm.storm.storm
    assert storm.marks.exhausted
    assert storm.marks.reminders == 2
    assert storm.marks.reminded_at == datetime(2026, 12, 1, 3, 20, tzinfo=UTC)
    held = IncidentFlags.from_json(stored["held"]).holds
    assert (held.suppressed, held.suppressed_by) == (True, 7)
    assert held.maintenance_until == datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert held.silenced_until == datetime(2026, 12, 1, 4, tzinfo=UTC)
    assert held.flapping
    assert held.flapping_keys == ("k1",)
    assert IncidentFlags.from_json(stored["plain"]) == IncidentFlags()

    command.downgrade(config, "0007")
    assert asyncio.run(_flags(url)) == FLAT
    upgrade_to_head(url)
    command.check(config)
    assert asyncio.run(_flags(url)) == stored
