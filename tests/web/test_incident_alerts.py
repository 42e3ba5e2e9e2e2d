"""The incident page's alert groups and the raw payload page, on SQLite and PostgreSQL."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Connection

from app.store.bulk import bulk_insert
from app.store.tables import Base
from app.store.upsert import insert_returning_ids
from app.web.queries import GROUPS_SHOWN, RAW_SHOWN_BYTES
from tests.support.app import RunningApp, app_settings, running_app
from tests.web.support import browser_client, login

_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def running(database_url: str) -> AsyncIterator[RunningApp]:
    """The real app with a dashboard session secret, on each store."""
    async with running_app(app_settings(database_url, session_secret="s")) as app:
        yield app


def _add(conn: Connection, incident_id: int, names: list[str], bodies: list[bytes]) -> list[int]:
    tables = Base.metadata.tables
    alerts = [
        {
            "source": "alertmanager",
            "dedup_key": f"k{n}",
            "status": "firing" if n % 2 else "resolved",
            "severity": "warning",
            "summary": f"summary {n}",
            "labels": {"alertname": name, "n": str(n)},
            "started_at": _AT,
            "first_seen_at": _AT,
            "last_seen_at": _AT,
            "count": 2,
            "incident_id": incident_id,
        }
        for n, name in enumerate(names)
    ]
    ids = insert_returning_ids(conn, tables["alerts"], alerts)
    raws = [
        {"source": "alertmanager", "received_at": _AT, "body": body, "headers": {}}
        for body in bodies
    ]
    raw_ids = insert_returning_ids(conn, tables["raw_events"], raws)
    links = [{"alert_id": ids[0], "raw_event_id": raw_id} for raw_id in raw_ids]
    bulk_insert(conn, tables["alert_raw_events"], links)
    return ids


async def _incident(app: RunningApp) -> int:
    body = {"summary": "disk", "severity": "warning", "labels": {"service": "storage"}}
    answer = await app.client.post("/webhooks/generic", json=body, headers=app.webhook_headers())
    incident: int = answer.json()["incidents"][0]
    return incident


async def test_alerts_are_grouped_counted_and_paged(running: RunningApp) -> None:
    incident = await _incident(running)
    names = [f"Check{n % (GROUPS_SHOWN + 5)}" for n in range(3 * (GROUPS_SHOWN + 5))]
    await running.services.db.transaction(lambda conn: _add(conn, incident, names, [b"{}"]))
    async with browser_client(running) as client:
        login(client, running, "engineer", "anna", running.engineer_token)
        first = (await client.get(f"/incidents/{incident}")).text
        more = (await client.get(f"/incidents/{incident}?groups={GROUPS_SHOWN}")).text
    total = len(names) + 1
    assert f"Alerts ({total} in {GROUPS_SHOWN + 6} groups)" in first
    shown = re.findall(r"<h3>(\S+) <span", first)
    assert len(shown) == GROUPS_SHOWN
    assert "· 3 alerts, " in first  # each CheckN group: 3 alerts
    assert f'href="/incidents/{incident}?groups={GROUPS_SHOWN}#alerts"' in first
    assert len(re.findall(r"<h3>(\S+) <span", more)) == 6
    assert not set(shown) & set(re.findall(r"<h3>(\S+) <span", more))
    assert "Show more groups" not in more


async def test_raw_payloads_one_at_a_time_cut_and_team_only(running: RunningApp) -> None:
    incident = await _incident(running)
    big = b'{"x": "' + b"y" * (RAW_SHOWN_BYTES * 3) + b'"}'
    bodies = [big, b'{"newest": true}']
    ids = await running.services.db.transaction(lambda conn: _add(conn, incident, ["Disk"], bodies))
    async with browser_client(running) as client:
        login(client, running, "engineer", "anna", running.engineer_token)
        newest = await client.get(f"/incidents/{incident}/raw?alert={ids[0]}")
        older = re.search(r'at=(\d+)">Older', newest.text)
        assert older is not None
        cut = await client.get(f"/incidents/{incident}/raw?alert={ids[0]}&at={older.group(1)}")
        missing = await client.get(f"/incidents/{incident + 1000}/raw")
    assert newest.status_code == 200
    assert "{&#34;newest&#34;: true}" in newest.text
    assert "Truncated" not in newest.text
    assert cut.status_code == 200
    assert f"Truncated: showing the first {RAW_SHOWN_BYTES} of {len(big)} bytes" in cut.text
    assert len(cut.content) < RAW_SHOWN_BYTES + 10_000
    assert "This is the oldest payload kept." in cut.text
    assert missing.status_code == 404
