"""Schema migrations through Alembic, callable from the CLI and tests."""

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def migrations_dir() -> Path:
    """The Alembic script folder, found through the installed package, never the cwd.

    setup.py ships the top-level migrations/ as `app.migrations`: a wheel has it beside the
    other modules, an editable install maps the name to the source folder.
    """
    try:
        found = files("app.migrations")
    except ModuleNotFoundError:
        # A checkout run without installing (PYTHONPATH=.): the folder beside app/.
        return Path(__file__).resolve().parents[2] / "migrations"
    if not isinstance(found, Path):
        # Alembic reads a real folder; a zipped install has none.
        raise RuntimeError(f"the migrations are not in a folder on disk: {found}")
    return found


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database.

    Built in code rather than from alembic.ini, which an installed package does not have;
    the top-level alembic.ini is for developers running `alembic` in a checkout.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
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
