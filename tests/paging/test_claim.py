"""The sender's claim on its own: an SMS still in flight counts against the engineer's throttle
(the express lane claims while another batch may be sending to the same person)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.clock import FrozenClock
from app.escalation.outbox import direct_row
from app.paging.base import PageKind
from app.paging.claims import PROCESS_ID
from app.paging.sender import Sender
from app.paging.throttle import SmsThrottle
from app.store.database import Database
from app.store.tables import Base
from app.store.upsert import insert_ignore

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
BO = "+46702223344"
_pages = Base.metadata.tables["pages"]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def note(text: str, **changes: Any) -> dict[str, Any]:
    """A resolved note to bo by SMS (throttled like pages, bundled with none)."""
    row = direct_row("bo", "sms", BO, kind=PageKind.RESOLVED_NOTE, text=text, title=text, now=START)
    return row | changes


async def test_an_sms_still_sending_holds_the_next_one_to_that_engineer(db: Database) -> None:
    in_flight = note("first", status="sending", claimed_at=START - timedelta(seconds=10))
    waiting = note("second")
    await db.transaction(lambda conn: insert_ignore(conn, _pages, [in_flight, waiting]))
    throttle = SmsThrottle(min_interval=timedelta(seconds=60), per_window=0)
    sender = Sender(db, {}, clock=FrozenClock(START), rules=None, throttle=throttle)

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
    await db.transaction(lambda conn: insert_ignore(conn, _pages, [note("hello")]))
    sender = Sender(db, {}, clock=FrozenClock(START), rules=None, throttle=SmsThrottle.off())

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
