"""Schema migrations through Alembic, callable from the CLI and tests."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def _project_root() -> Path:
    # A source checkout (editable install) has migrations/ beside app/; an installed package
    # (the Docker image) runs from the directory that holds them.
    beside_package = Path(__file__).resolve().parents[2]
    if (beside_package / "migrations").is_dir():
        return beside_package
    return Path.cwd()


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Bring the schema to the newest revision."""
    command.upgrade(alembic_config(database_url), "head")


def downgrade_to_base(database_url: str) -> None:
    """Undo every migration (tests prove each is reversible)."""
    command.downgrade(alembic_config(database_url), "base")


async def schema_is_current(engine: AsyncEngine, database_url: str) -> bool:
    """True when the database is at the head revision."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(current) == head
