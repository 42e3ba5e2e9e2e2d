"""Migrations are complete and reversible on SQLite and PostgreSQL."""

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from app.store.migrate import alembic_config, downgrade_to_base, schema_is_current, upgrade_to_head
from app.store.session import make_engine
from tests.support.databases import PostgresDatabases, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.empty()


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)

    def names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with engine.connect() as conn:
        found = await conn.run_sync(names)
    await engine.dispose()
    return found - {"alembic_version"}


async def _current(url: str) -> bool:
    engine = make_engine(url)
    try:
        return await schema_is_current(engine, url)
    finally:
        await engine.dispose()


def test_upgrade_check_downgrade_upgrade(empty_database: str) -> None:
    url = empty_database
    assert not asyncio.run(_current(url))
    upgrade_to_head(url)
    assert asyncio.run(_current(url))
    # `alembic check` raises when the models and the migrations disagree.
    command.check(alembic_config(url))
    assert {"alerts", "raw_events", "incidents", "api_tokens"} <= asyncio.run(_tables(url))
    downgrade_to_base(url)
    assert asyncio.run(_tables(url)) == set()
    upgrade_to_head(url)
    command.check(alembic_config(url))
