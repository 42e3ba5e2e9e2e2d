"""The outbox's `enqueue` writes a page once however often it is asked (the unique key is the
exactly-once promise), and paging never writes incidents (it reports to the incident core).

(That only the outbox writes `pages` is in tests/test_table_owners.py.)"""

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from app.paging.base import PageKind
from app.paging.outbox import enqueue
from app.paging.requests import PagePayload, PageRequest, direct_request
from app.store.database import Database
from app.store.tables import Base
from tests.support.table_writes import INCIDENTS, writes

APP = Path(__file__).resolve().parents[2] / "app"
OWNER = APP / "paging" / "outbox.py"
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ANNA = "+46701112233"
_pages = Base.metadata.tables["pages"]
_incidents = Base.metadata.tables["incidents"]


def _modules(folder: Path = APP) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_paging_never_writes_incidents() -> None:
    # It reports outcomes through outcomes.PageReports; the incident core acts on them.
    writers = {
        f"{path.relative_to(APP.parent)}:{line}"
        for path in _modules(APP / "paging")
        for table in INCIDENTS
        for line in writes(path.read_text(), table)
    }
    assert writers == set()
    importers = [
        path.name
        for path in _modules(APP / "paging")
        if re.search(r"^(from|import) app\.escalation", path.read_text(), re.MULTILINE)
    ]
    assert importers == []


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def incident(db: Database) -> int:
    row = {
        "group_key": "payments-db",
        "state": "triggered",
        "severity": "critical",
        "summary": "replica lag 47s",
        "unrouted": False,
        "opened_at": START,
        "next_action_at": START,
        "decision": {},
        "rules_version": "test",
        "cycle": 1,
        "flags": {},
    }
    statement = insert(_incidents).returning(_incidents.c.id)
    incident_id: int = await db.transaction(lambda conn: conn.execute(statement, row).scalar_one())
    return incident_id


def page(incident_id: int, **changes: Any) -> PageRequest:
    """Anna paged by SMS at step 1 of cycle 1."""
    payload = PagePayload(title="lag", summary="replica lag 47s", severity="critical")
    request = PageRequest(
        "anna", "sms", ANNA, PageKind.PAGE, "[CRIT #1] lag", payload, incident_id, cycle=1
    )
    return replace(request, **changes)


async def written(db: Database, requests: list[PageRequest], now: datetime = START) -> list[int]:
    ids: list[int] = await db.transaction(lambda conn: enqueue(conn, requests, now=now))
    return ids


async def rows(db: Database) -> list[tuple[object, ...]]:
    query = select(_pages.c.engineer, _pages.c.channel, _pages.c.kind, _pages.c.step)
    async with db.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query.order_by(_pages.c.id))]


async def test_a_page_is_written_once_however_often_it_is_enqueued(
    db: Database, incident: int
) -> None:
    [first] = await written(db, [page(incident)])

    # A retried tick, another replica, a restart: the same step's page again, later.
    assert await written(db, [page(incident)], START + timedelta(seconds=5)) == []
    assert await written(db, [page(incident), page(incident)]) == []

    assert await rows(db) == [("anna", "sms", "page", 0)]
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(_pages))).one()
    assert (row.id, row.status, row.attempts, row.claimed_at) == (first, "pending", 0, None)
    assert row.next_attempt_at.replace(tzinfo=UTC) == START  # due when first written


async def test_one_call_with_a_page_twice_writes_it_once(db: Database, incident: int) -> None:
    ids = await written(db, [page(incident), page(incident, text="other text")])

    assert len(ids) == 1
    assert await rows(db) == [("anna", "sms", "page", 0)]


async def test_every_part_of_the_key_makes_another_page(db: Database, incident: int) -> None:
    others = [
        page(incident, channel="slack", address="U123"),
        page(incident, step=1),
        page(incident, round=1),
        page(incident, cycle=2),
        page(incident, engineer="bo"),
        page(incident, kind=PageKind.REMINDER),
    ]
    await written(db, [page(incident)])

    assert len(await written(db, others)) == len(others)
    assert await written(db, [page(incident), *others]) == []


async def test_messages_about_no_incident_are_never_merged(db: Database) -> None:
    test_page = direct_request("anna", "sms", ANNA, kind=PageKind.TEST, text="test", title="t")

    # Each test page or sign-in code asked for is its own message.
    assert len(await written(db, [test_page, test_page])) == 2


async def test_the_payload_is_stored_as_json_and_read_back(db: Database, incident: int) -> None:
    code = direct_request(
        "anna", "sms", ANNA, kind=PageKind.NOTICE, text="code 1", title="code", secret=True
    )
    note = page(incident).amended(state="acknowledged", status="Acknowledged by Bo via SMS")
    await written(db, [code, note])

    async with db.engine.connect() as conn:
        stored = [row.payload for row in await conn.execute(select(_pages).order_by(_pages.c.id))]
    assert stored == [
        {"title": "code", "summary": "code 1", "secret": True},
        {
            "title": "lag",
            "summary": "replica lag 47s",
            "severity": "critical",
            "state": "acknowledged",
            "status": "Acknowledged by Bo via SMS",
        },
    ]
    assert [PagePayload.from_json(p) for p in stored] == [code.payload, note.payload]
