"""A database that does not take the write in time answers 503 with Retry-After, never 2xx."""

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from tests.support.app import app_settings, running_app

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


async def test_locked_sqlite_gives_503_then_recovers(sqlite_database: str) -> None:
    path = sqlite_database.removeprefix("sqlite+aiosqlite:///")
    settings = app_settings(sqlite_database, db_timeout_s=0.5)
    async with running_app(settings) as app:
        body = json.dumps({"summary": "disk full", "dedup_key": "locked"})
        locker = subprocess.Popen(  # noqa: ASYNC220 - the lock must live in another process
            [sys.executable, "-c", HOLD_LOCK, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert locker.stdout is not None
            assert locker.stdout.readline().strip() == "locked"
            response = await app.client.post(
                "/webhooks/generic", content=body, headers=app.webhook_headers()
            )
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
        finally:
            assert locker.stdin is not None
            assert locker.stdout is not None
            locker.stdin.write("\n")
            locker.stdin.close()
            locker.wait(timeout=10)
            locker.stdout.close()
        again = await app.client.post(
            "/webhooks/generic", content=body, headers=app.webhook_headers()
        )
        assert again.status_code == 202
    with closing(sqlite3.connect(Path(path))) as db:
        rows = db.execute("SELECT status FROM alerts").fetchall()
    # The 503'd request may still have committed after its timeout (the sender retries and
    # dedup folds it in); what must never happen is a 2xx without a row.
    assert rows == [("firing",)]
