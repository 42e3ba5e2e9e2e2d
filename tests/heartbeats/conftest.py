"""Fixtures of the heartbeat tests: a frozen clock at START."""

import pytest

from app.clock import FrozenClock
from tests.heartbeats.support import START


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)
