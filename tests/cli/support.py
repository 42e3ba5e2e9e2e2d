"""The `skillpager` console script as a team lead runs it: a subprocess of the installed
entry point with SKILLPAGER_* settings of its own (the `cli` fixture is in conftest.py)."""

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

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
