"""Fixtures for end-to-end tests: `skillpager serve` subprocesses, always stopped afterwards."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import MakeServer, ServerProcess


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


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """Builds (not starts) servers on rules and env of their own; all stopped at test end."""
    made: list[ServerProcess] = []

    def make(rules_dir: Path, env: dict[str, str]) -> ServerProcess:
        directory = tmp_path / f"server{len(made)}"
        directory.mkdir()
        server = ServerProcess(directory, env={"SKILLPAGER_RULES_DIR": str(rules_dir), **env})
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()
