"""Fresh SQLite files and PostgreSQL databases for tests, migrated to head."""

import asyncio
import os
import secrets
import urllib.parse
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg

from app.store.migrate import upgrade_to_head
from tests.support.requirements import unavailable

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def postgres_server_url() -> str:
    """The admin URL of the test PostgreSQL server."""
    return os.environ.get("SKILLPAGER_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(_dsn(url), timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    # Session fixtures may first be built from inside a running test loop; asyncio.run needs a
    # loop-free thread then.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def require_postgres() -> str:
    """The server URL, or skip (fail under CI) when no PostgreSQL answers."""
    url = postgres_server_url()
    try:
        _run(_admin(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable(f"no PostgreSQL at {url}: {exc}")
    return url


class PostgresDatabases:
    """Creates databases cloned from one migrated template, and drops them all at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.prefix = f"skillpager_test_{secrets.token_hex(4)}"
        self.template = f"{self.prefix}_template"
        self.created: list[str] = []
        _run(_admin(server_url, f'CREATE DATABASE "{self.template}"'))
        self.created.append(self.template)
        upgrade_to_head(_with_database(server_url, self.template))

    def fresh(self) -> str:
        """A new migrated database's URL."""
        name = f"{self.prefix}_{len(self.created)}"
        _run(_admin(self.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.created.append(name)
        return _with_database(self.server_url, name)

    def empty(self) -> str:
        """A new database with no schema at all."""
        name = f"{self.prefix}_{len(self.created)}"
        _run(_admin(self.server_url, f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return _with_database(self.server_url, name)

    def drop_all(self) -> None:
        """Drop every database this run created."""
        for name in reversed(self.created):
            _run(_admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(directory: Path, name: str = "skillpager.db") -> str:
    """A SQLite URL for a file in `directory`."""
    return f"sqlite+aiosqlite:///{directory / name}"


def migrated_sqlite(directory: Path) -> str:
    """A fresh SQLite database at head."""
    url = sqlite_url(directory)
    upgrade_to_head(url)
    return url
