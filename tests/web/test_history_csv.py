"""`/history.csv`: no cell runs as a spreadsheet formula, and times carry their UTC offset.

OWASP's CSV injection rule: a cell from outside that starts with = + - @, tab, CR or LF gets a
leading `'`. The hostile values come in where outsiders control them: the customer label of an
unrouted alert, the summary, and the name an action is recorded under.
"""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from tests.support.app import RunningApp, app_settings, running_app
from tests.web.support import browser_client, login

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
HOSTILE = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
]


@pytest.fixture
async def app(sqlite_database: str) -> AsyncIterator[RunningApp]:
    settings = app_settings(sqlite_database, session_secret="test-secret")
    async with running_app(settings) as running:
        yield running


async def _resolved(app: RunningApp, hostile: str, engineer_token: str) -> None:
    body = {
        "summary": f"{hostile} summary",
        "severity": "critical",
        "dedup_key": hostile,
        "labels": {"customer": hostile, "alertname": "Disk"},
    }
    answer = await app.client.post("/webhooks/generic", json=body, headers=app.webhook_headers())
    assert answer.status_code == 202, answer.text
    incident_id = answer.json()["incidents"][0]
    headers = {"Authorization": f"Bearer {engineer_token}"}
    for action in ("ack", "resolve"):
        answer = await app.client.post(
            f"/api/incidents/{incident_id}/{action}", json={}, headers=headers
        )
        assert answer.status_code == 200, answer.text


async def _csv(app: RunningApp) -> list[list[str]]:
    async with browser_client(app) as client:
        login(client, app, "engineer", "anna", app.engineer_token)
        answer = await client.get("/history.csv")
    assert answer.status_code == 200, answer.text
    return list(csv.reader(io.StringIO(answer.text, newline="")))


async def test_no_cell_starts_a_formula(app: RunningApp) -> None:
    # Actors are engineers of the skills map (a token of anyone else is refused), so the
    # hostile text comes in through the alerts: customer, system, summary and dedup key.
    for hostile in HOSTILE:
        await _resolved(app, hostile, app.engineer_token)
    rows = await _csv(app)
    header, data = rows[0], rows[1:]
    assert len(data) == len(HOSTILE)
    for row in data:
        for name, cell in zip(header, row, strict=True):
            assert not cell.startswith(FORMULA_STARTS), f"{name}: {cell!r}"
    cells = {cell for row in data for cell in row}
    for hostile in HOSTILE:
        assert "'" + hostile in cells, hostile  # the customer cell, kept readable


async def test_times_are_iso_8601_with_offset(app: RunningApp) -> None:
    await _resolved(app, "acme", app.engineer_token)
    header, row = await _csv(app)
    for name in ("opened_at", "acknowledged_at", "resolved_at"):
        moment = datetime.fromisoformat(row[header.index(name)])
        assert moment.utcoffset() is not None, f"{name}: {row[header.index(name)]!r}"
