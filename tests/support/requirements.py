"""What a test needs from the machine: skipped without it locally, a failure under CI."""

import os
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """Fail under CI (a missing part is a broken setup there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
