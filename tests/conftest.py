"""Fixtures every test directory shares: databases (SQLite and PostgreSQL) and a running app."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.slack_server import SlackFake
from tests.fakes.twilio_server import TwilioFake
from tests.support.app import RunningApp, app_settings, running_app
from tests.support.databases import PostgresDatabases, migrated_sqlite, require_postgres

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def twilio_fake() -> Iterator[TwilioFake]:
    """A running fake Twilio REST API on 127.0.0.1."""
    with TwilioFake() as fake:
        yield fake


@pytest.fixture
def slack_fake() -> Iterator[SlackFake]:
    """A running fake Slack Web API on 127.0.0.1."""
    with SlackFake() as fake:
        yield fake


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """One migrated template per test run; tests clone it (fail under CI when absent)."""
    databases = PostgresDatabases(require_postgres())
    yield databases
    databases.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh migrated database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return migrated_sqlite(tmp_path)
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.fresh()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    """A fresh migrated SQLite database (for tests that need only one store)."""
    return migrated_sqlite(tmp_path)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[RunningApp]:
    """The real app on a fresh database of each kind."""
    async with running_app(app_settings(database_url)) as running:
        yield running


@pytest.fixture
async def sqlite_app(sqlite_database: str) -> AsyncIterator[RunningApp]:
    """The real app on a fresh SQLite database."""
    async with running_app(app_settings(sqlite_database)) as running:
        yield running
