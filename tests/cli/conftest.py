"""The `cli` fixture: the console script on a copy of the basic skills map in a temp folder."""

import shutil
from pathlib import Path

import pytest

from tests.cli.support import SKILLPAGER, Cli
from tests.support.app import BASIC_RULES
from tests.support.databases import sqlite_url


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A console script on a copy of the basic skills map and a not-yet-created SQLite file."""
    if not SKILLPAGER.exists():
        pytest.fail(f"{SKILLPAGER} is missing: install the project (pip install -e .)")
    rules = tmp_path / "rules"
    shutil.copytree(BASIC_RULES, rules)
    return Cli(
        tmp_path,
        {
            "SKILLPAGER_RULES_DIR": str(rules),
            "SKILLPAGER_DATABASE_URL": sqlite_url(tmp_path),
            "SKILLPAGER_LOG_FORMAT": "text",
        },
    )
