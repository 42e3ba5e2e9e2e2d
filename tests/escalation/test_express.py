"""The express lane: a commit that opens incidents gets them written, claimed and sent at once,
without the full cycle; stop() still records the send in flight; and a full cycle sends the
steps its own failures brought forward."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.paging.base import ChannelError, Delivery, OutboundPage, PageKind
from app.paging.outbox import enqueue
from app.paging.requests import direct_request
from app.store.tables import Base
from tests.support.app import RunningApp, app_settings, fire_critical, running_app
from tests.support.channels import SmsDouble

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LADDER_RULES = Path(__file__).parent.parent / "fixtures" / "rules_ladder"
BO, CARL, ANNA = "+46702223344", "+46703334455", "+46701112233"
_pages = Base.metadata.tables["pages"]
_incidents = Base.metadata.tables["incidents"]


class ScriptedSms(SmsDouble):
    """The `sms` channel as a fake: notes each page's committed status while sending it, fails
    the numbers in `wrong` (invalid number) and, given `release`, holds every send until set."""

    name = "sms"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.sent: list[OutboundPage] = []
        self.status_while_sending: list[str] = []
        self.wrong: set[str] = set()
        self.started = asyncio.Event()
        self.release: asyncio.Event | None = None

    async def send(self, page: OutboundPage) -> Delivery:
        """Record the row's status as other connections see it, then answer as told."""
        async with self._engine.connect() as conn:
            query = select(_pages.c.status).where(_pages.c.id == page.page_id)
            self.status_while_sending.append((await conn.execute(query)).scalar_one())
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if page.to in self.wrong:
            raise ChannelError("invalid number", code="21211", retryable=False)
        self.sent.append(page)
        return Delivery(f"SM{page.page_id}", "accepted")

    async def aclose(self) -> None:
        """Nothing to release."""


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(database_url: str, clock: FrozenClock) -> AsyncIterator[RunningApp]:
    settings = app_settings(
        database_url, rules_dir=LADDER_RULES, sms_min_interval="0", sms_per_15min=0
    )
    async with running_app(settings, clock) as running:
        await running.services.escalation.settle()  # the startup cycle
        yield running


@pytest.fixture
def sms(app: RunningApp) -> ScriptedSms:
    fake = ScriptedSms(app.services.engine)
    app.services.channels["sms"] = fake  # the sender's own mapping
    return fake


async def post(app: RunningApp, service: str) -> int:
    """A critical alert of `service`: its incident, right after the 202 (the lane still runs)."""
    return await fire_critical(
        app, service, {"service": service}, summary=f"{service} down", settle=False
    )


async def pages(app: RunningApp, **where: Any) -> list[tuple[Any, ...]]:
    query = select(_pages.c.incident_id, _pages.c.engineer, _pages.c.kind, _pages.c.status)
    for column, value in where.items():
        query = query.where(_pages.c[column] == value)
    async with app.services.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query.order_by(_pages.c.id))]


async def test_an_opened_incident_is_paged_alone_and_claimed_before_its_send(
    app: RunningApp, sms: ScriptedSms, clock: FrozenClock
) -> None:
    cache = await post(app, "cache")
    await app.services.escalation.settle()
    # Work the full cycle would do and the express lane must not: cache's next step falls due
    # and a test page waits in the outbox.
    test_page = direct_request("anna", "sms", ANNA, kind=PageKind.TEST, text="test", title="test")
    now = clock.now()
    await app.services.db.transaction(lambda conn: enqueue(conn, [test_page], now=now))
    due_now = update(_incidents).where(_incidents.c.id == cache).values(next_action_at=START)
    await app.services.db.transaction(lambda conn: conn.execute(due_now))

    db = await post(app, "db")
    await app.services.escalation.settle()

    assert [(p.engineer_id, p.incident_id) for p in sms.sent] == [("bo", cache), ("bo", db)]
    # Written and claimed in one transaction: committed as `sending` before the provider call.
    assert sms.status_while_sending == ["sending", "sending"]
    assert await pages(app, incident_id=db) == [(db, "bo", "page", "sent")]
    assert await pages(app, incident_id=cache) == [(cache, "bo", "page", "sent")]
    assert await pages(app, kind="test") == [(None, "anna", "test", "pending")]

    await app.services.escalation.cycle()
    assert sorted(p.engineer_id for p in sms.sent[2:]) == ["anna", "carl"]


async def test_stop_records_the_express_send_in_flight_and_then_pages_nothing(
    app: RunningApp, sms: ScriptedSms
) -> None:
    sms.release = asyncio.Event()
    db = await post(app, "db")
    await asyncio.wait_for(sms.started.wait(), timeout=5)

    stopping = asyncio.create_task(app.services.escalation.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done(), "stop() must wait for the send in flight"
    sms.release.set()
    await asyncio.wait_for(stopping, timeout=5)
    assert await pages(app, incident_id=db) == [(db, "bo", "page", "sent")]

    cache = await post(app, "cache")  # stored, but the stopped engine pages nothing
    await app.services.escalation.settle()
    assert await pages(app, incident_id=cache) == []
    assert len(sms.sent) == 1


async def test_a_cycle_sends_the_step_its_failed_page_brought_forward(
    app: RunningApp, sms: ScriptedSms, clock: FrozenClock
) -> None:
    db = await post(app, "db")
    await app.services.escalation.settle()
    sms.wrong = {CARL}  # carl's number is wrong: no fallback, the ladder moves on at once

    clock.advance(timedelta(minutes=5))
    await app.services.escalation.cycle()

    assert [(p.engineer_id, p.status) for p in await _page_rows(app, db)] == [
        ("bo", "sent"),
        ("carl", "failed"),
        ("dana", "sent"),
        ("erik", "sent"),
    ]


async def _page_rows(app: RunningApp, incident_id: int) -> list[Any]:
    query = select(_pages.c.engineer.label("engineer_id"), _pages.c.status).where(
        _pages.c.incident_id == incident_id, _pages.c.kind == "page"
    )
    async with app.services.engine.connect() as conn:
        return list(await conn.execute(query.order_by(_pages.c.id)))
