"""Migration 0003 blanks the credentials already stored in raw events, on a populated database."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select

from app.store.migrate import alembic_config, upgrade_to_head
from app.store.session import make_engine
from app.store.tables import Base, RawEvent
from tests.support.databases import PostgresDatabases, sqlite_url

KEY = "R0UT1NGK3Y-0123456789"
PAGERDUTY = '{"routing_key" : "' + KEY + '", "event_action": "trigger", "x": "\\u00e9"}'
UNSUBSCRIBE = "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:x"
CLOUDWATCH = json.dumps({"Type": "Notification", "Message": "{}", "UnsubscribeURL": UNSUBSCRIBE})
GENERIC = '{"summary": "routing_key is ' + KEY + '", "routing_key": "' + KEY + '"}'


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.empty()


async def _insert(url: str, rows: list[tuple[str, str]]) -> None:
    engine = make_engine(url)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        for source, body in rows:
            values = {"source": source, "received_at": now, "body": body.encode(), "headers": {}}
            await conn.execute(insert(Base.metadata.tables["raw_events"]), values)
    await engine.dispose()


async def _bodies(url: str) -> dict[str, str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(select(RawEvent.source, RawEvent.body).order_by(RawEvent.id))
        found = {source: bytes(body).decode() for source, body in rows}
    await engine.dispose()
    return found


def test_0003_redacts_stored_rows_and_downgrades_as_a_no_op(empty_database: str) -> None:
    # Sync: Alembic runs its own event loop for the async drivers.
    url = empty_database
    config = alembic_config(url)
    command.upgrade(config, "0002")
    rows = [("pagerduty", PAGERDUTY), ("cloudwatch", CLOUDWATCH), ("generic", GENERIC)]
    asyncio.run(_insert(url, rows))

    upgrade_to_head(url)
    bodies = asyncio.run(_bodies(url))
    assert bodies["pagerduty"] == PAGERDUTY.replace(f'"{KEY}"', '"REDACTED"')
    assert json.loads(bodies["cloudwatch"])["UnsubscribeURL"] == "REDACTED"
    assert bodies["generic"] == GENERIC  # a generic body is the sender's own data, kept as sent

    command.downgrade(config, "0002")
    assert asyncio.run(_bodies(url)) == bodies
    upgrade_to_head(url)
    command.check(config)
    assert asyncio.run(_bodies(url)) == bodies
