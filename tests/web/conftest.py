"""Fixtures of the dashboard tests."""

from collections.abc import AsyncIterator

import pytest

from tests.support.app import app_settings, running_app
from tests.web.support import Seeded, seed


@pytest.fixture
async def seeded(sqlite_database: str) -> AsyncIterator[Seeded]:
    """The real app on SQLite with an acme and a globex incident."""
    async with running_app(app_settings(sqlite_database, session_secret="test-secret")) as running:
        yield await seed(running)
