"""Alembic environment: async engines, batch mode for SQLite, our naming convention."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from app.config import load_settings
from app.store.search import is_search_object
from app.store.session import make_engine
from app.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or load_settings().database_url


def _include_name(name: str | None, type_: str, _parents: Any) -> bool:
    # The text search's FTS5 tables and trigram indexes (migration 0002) are not in the
    # metadata: left out of the comparison, or `alembic check` would want them dropped.
    return not (type_ in ("table", "index") and is_search_object(name))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = make_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_online())
