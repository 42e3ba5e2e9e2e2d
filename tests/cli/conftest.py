"""The `skillpager` console script as a team lead runs it: a subprocess of the installed
entry point, its own environment, a skills map and a SQLite file in a temporary directory."""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.app import BASIC_RULES
from tests.support.databases import sqlite_url

SKILLPAGER = Path(sys.executable).with_name("skillpager")


@dataclass(frozen=True)
class Result:
    """What one run of the command left: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def first_err(self) -> str:
        """The first line of stderr ('' when it is empty)."""
        return (self.err.splitlines() or [""])[0]


@dataclass
class Cli:
    """Runs `skillpager …` with SKILLPAGER_* settings of its own (none inherited)."""

    directory: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60) -> Result:
        """Run the console script and wait for it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLPAGER_")}
        env |= self.env
        done = subprocess.run(
            [str(SKILLPAGER), *args],
            cwd=self.directory,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            # No terminal: stdin is a pipe (or /dev/null), as in a script or CI job.
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def migrate(self) -> str:
        """Bring this CLI's database to head with `skillpager migrate`; returns its URL."""
        done = self.run("migrate")
        assert done.code == 0, done.err
        return self.env["SKILLPAGER_DATABASE_URL"]

    @property
    def rules_dir(self) -> Path:
        """The skills map this CLI reads (a copy it may edit)."""
        return Path(self.env["SKILLPAGER_RULES_DIR"])


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
