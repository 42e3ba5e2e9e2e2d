"""The app on the quiet-hours skills map (tests/quiet/rules_quiet) with a frozen clock."""

from collections.abc import AsyncIterator

import pytest

from app.clock import FrozenClock
from tests.quiet.helpers import QUIET_RULES, START
from tests.support.app import RunningApp, app_settings, running_app


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(database_url: str, clock: FrozenClock) -> AsyncIterator[RunningApp]:
    settings = app_settings(database_url, rules_dir=QUIET_RULES)
    async with running_app(settings, clock) as running:
        yield running
