"""`/readyz` answers 503, naming why, when the store cannot take a write (issue 12.16)."""

import gc
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from app.clock import as_utc
from app.store.tables import Readiness
from tests.support.app import app_settings, running_app
from tests.support.databases import PostgresDatabases


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    """A fresh migrated PostgreSQL database of its own (it is made read-only)."""
    return postgres_databases.fresh()


async def test_ready_writes_the_heartbeat_row(sqlite_database: str) -> None:
    url = sqlite_database
    async with running_app(app_settings(url)) as running:
        answer = await running.client.get("/readyz")
        assert answer.status_code == 200, answer.text
        checks = answer.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["writer"] == "ok"
        assert checks["rules"]["loaded"] is True
        async with running.services.engine.connect() as conn:
            beat = (await conn.execute(select(Readiness.beat_at))).scalar_one()
        assert abs((as_utc(beat) - running.services.clock.now()).total_seconds()) < 60


async def test_a_store_that_refuses_writes_is_not_ready(
    sqlite_database: str, tmp_path: Path
) -> None:
    url = sqlite_database
    async with running_app(app_settings(url, db_timeout_s=0.3)) as running:
        # Another process holds the write lock: reads still work (WAL), every write fails.
        holder = sqlite3.connect(tmp_path / "skillpager.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            answer = await running.client.get("/readyz")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["ready"] is False
        assert body["failing"] == ["database"]
        assert "cannot write" in body["checks"]["database"]
        assert "locked" in body["checks"]["database"]
        assert (await running.client.get("/readyz")).status_code == 200


@pytest.mark.postgres
# dispose() drops the connections the running app had checked out without closing them; they
# are collected (and warn) here rather than in whichever test runs next.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed connection:ResourceWarning")
async def test_a_read_only_postgres_is_not_ready(postgres_url: str) -> None:
    url = postgres_url
    async with running_app(app_settings(url)) as running:
        name = url.rsplit("/", 1)[1]
        async with running.services.engine.connect() as conn:
            statement = f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'
            await conn.exec_driver_sql(statement)
            await conn.commit()
        await running.services.engine.dispose()  # new connections pick the setting up
        answer = await running.client.get("/readyz")
        assert answer.status_code == 503, answer.text
        assert "read-only" in answer.json()["checks"]["database"]
    gc.collect()


async def test_a_stopped_writer_is_not_ready(sqlite_database: str) -> None:
    async with running_app(app_settings(sqlite_database)) as running:
        await running.services.writer.stop()
        answer = await running.client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["failing"] == ["writer"]
        running.services.writer.start()  # the lifespan stops it again
