"""Fixtures for end-to-end tests: a `skillpager serve` subprocess, always stopped afterwards."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The service on a fresh SQLite file and a free 127.0.0.1 port, stopped at test end."""
    directory = tmp_path / "skillpager"
    directory.mkdir()
    process = ServerProcess(directory)
    try:
        process.start()
        yield process
    finally:
        process.stop()
