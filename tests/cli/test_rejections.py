"""Rejected requests: the log line names method, path, source, status and the parse error
(never the token), and `log-tail --rejected` lists the newest 50 from another process (issue 19,
point 8). The table keeps only the newest rows."""

import logging
import re

import pytest
from sqlalchemy import func, select

from app.clock import SystemClock
from app.store import rejections
from app.store.database import Database
from app.store.rejections import RejectionLog
from app.store.tables import Base
from tests.cli.support import Cli
from tests.support.app import app_settings, running_app

_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"


async def test_rejections_are_logged_in_full_and_listed_by_the_cli(
    cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    url = cli.migrate()
    secret = "sp_e_not-a-real-token-but-secret"
    with caplog.at_level(logging.INFO, logger="app.main"):
        async with running_app(app_settings(url, rules_dir=cli.rules_dir)) as app:
            bad = await app.client.post(
                "/webhooks/generic", content=b"{", headers=app.webhook_headers()
            )
            assert bad.status_code == 400
            unknown = await app.client.get(f"/api/alerts?token={secret}")
            assert unknown.status_code == 401
    logged = [m for r in caplog.records if (m := r.getMessage()).startswith("request rejected")]
    assert logged == [
        "request rejected: POST /webhooks/generic from 127.0.0.1: 400 malformed: "
        "malformed JSON: EOF while parsing an object at line 1 column 1",
        "request rejected: GET /api/alerts from 127.0.0.1: 401 unauthorized: "
        "unknown or revoked token",
    ]
    assert secret not in caplog.text
    done = cli.run("log-tail", "--rejected")
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        _STAMP + " 400 POST /webhooks/generic from 127.0.0.1: malformed: malformed JSON: "
        "EOF while parsing an object at line 1 column 1",
        lines[0],
    )
    assert re.fullmatch(
        _STAMP + " 401 GET /api/alerts from 127.0.0.1: unauthorized: unknown or revoked token",
        lines[1],
    )
    assert secret not in done.out


def test_log_tail_with_nothing_stored(cli: Cli) -> None:
    cli.migrate()
    done = cli.run("log-tail", "--rejected")
    assert (done.code, done.out, done.err) == (0, "", "no rejected requests stored\n")


async def test_the_table_keeps_the_newest_rows(database_url: str) -> None:
    db = Database(database_url)
    log = RejectionLog(SystemClock())
    log.start(db)
    try:
        for batch in range(2):
            for n in range(700):
                log.record("POST", f"/webhooks/{batch}-{n}", "10.0.0.1", 400, "malformed", "x")
            assert await log.flush() == 700
        table = Base.metadata.tables["rejections"]
        count = await db.transaction(
            lambda conn: conn.execute(select(func.count()).select_from(table)).scalar_one()
        )
        assert count == rejections.KEEP
        newest = await db.transaction(lambda conn: rejections.newest_rejections(conn, 50))
        assert [entry.path for entry in newest][-1] == "/webhooks/1-699"
        assert len(newest) == 50
    finally:
        await log.stop()
        await db.dispose()
