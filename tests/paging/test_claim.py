"""The sender's claim on its own: an SMS still in flight counts against the engineer's throttle
(the express lane claims while another batch may be sending to the same person)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.clock import FrozenClock
from app.incidents.page_reports import IncidentPageReports
from app.paging.base import PageKind
from app.paging.claims import PROCESS_ID
from app.paging.outbox import enqueue
from app.paging.requests import PageRequest, direct_request
from app.paging.sender import Sender
from app.paging.throttle import SmsThrottle
from app.store.database import Database
from app.store.tables import Base

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
BO = "+46702223344"
_pages = Base.metadata.tables["pages"]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def note(text: str) -> PageRequest:
    """A resolved note to bo by SMS (throttled like pages, bundled with none)."""
    return direct_request("bo", "sms", BO, kind=PageKind.RESOLVED_NOTE, text=text, title=text)


def sender_of(db: Database, throttle: SmsThrottle) -> Sender:
    clock = FrozenClock(START)
    reports = IncidentPageReports()
    return Sender(db, {}, clock=clock, rules=None, throttle=throttle, reports=reports)


async def test_an_sms_still_sending_holds_the_next_one_to_that_engineer(db: Database) -> None:
    await db.transaction(lambda conn: enqueue(conn, [note("first"), note("second")], now=START))
    in_flight = (
        update(_pages)
        .where(_pages.c.text == "first")
        .values(status="sending", claimed_at=START - timedelta(seconds=10))
    )
    await db.transaction(lambda conn: conn.execute(in_flight))
    throttle = SmsThrottle(min_interval=timedelta(seconds=60), per_window=0)
    sender = sender_of(db, throttle)

    jobs = await db.transaction(lambda conn: sender.claim(conn, START))

    assert jobs == []
    async with db.engine.connect() as conn:
        query = select(_pages.c.text, _pages.c.status, _pages.c.next_attempt_at)
        rows = {row.text: row for row in await conn.execute(query)}
    assert rows["second"].status == "pending"
    held_until = rows["second"].next_attempt_at.replace(tzinfo=UTC)
    assert held_until == START + timedelta(seconds=50)


async def test_a_claim_marks_its_rows_sending_with_what_the_provider_will_hold(
    db: Database,
) -> None:
    await db.transaction(lambda conn: enqueue(conn, [note("hello")], now=START))
    sender = sender_of(db, SmsThrottle.off())

    [job] = await db.transaction(lambda conn: sender.claim(conn, START))

    async with db.engine.connect() as conn:
        row = (await conn.execute(select(_pages))).one()
    assert (row.id, row.status, row.attempts, row.claimed_by) == (
        job.row.id,
        "sending",
        1,
        PROCESS_ID,
    )
    assert row.claimed_at.replace(tzinfo=UTC) == START
    assert row.payload["sent_text"] == "hello"
