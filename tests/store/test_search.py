"""Alert text search (`q=`): the index answers what a substring scan would, on both databases."""

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from app.api.paging import page
from app.store.migrate import alembic_config, upgrade_to_head
from app.store.search import fts_query, searches
from app.store.tables import Alert
from tests.support.app import RunningApp, post_generic
from tests.support.databases import PostgresDatabases, sqlite_url

TERMS = ("svc-17", "PAYMENTS", "db-3:la", "lag 4", "zz", "nothing-like-it", 'quote"d')
_COLUMNS = (
    "source, dedup_key, status, severity, summary, labels, started_at, first_seen_at,"
    " last_seen_at, count"
)


def _row(n: int) -> tuple[Any, ...]:
    at = "2026-11-27 10:00:00.000000"
    summary = f"Replica lag {n % 50}s on payments-db-{n % 7}" if n % 3 else f'svc-{n} quote"d'
    key = f"generic:svc-{n % 40}:lag"
    return ("generic", key, "resolved", "info", summary, "{}", at, at, at, 1)


_INSERT = f"INSERT INTO alerts ({_COLUMNS}) VALUES ({', '.join('?' * 10)})"  # noqa: S608 - our constants, never input
_INSERT_AT = _INSERT.replace("(source", "(id, source").replace("VALUES (", "VALUES (?, ")


def _insert(db: sqlite3.Connection, rows: range) -> None:
    with db:
        db.executemany(_INSERT, [_row(n) for n in rows])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, Session]]:
    url = sqlite_url(tmp_path)
    upgrade_to_head(url)
    db = sqlite3.connect(tmp_path / "skillpager.db")
    engine = create_engine(f"sqlite:///{tmp_path / 'skillpager.db'}")
    with Session(engine) as session:
        yield db, session
    db.close()
    engine.dispose()


def _searched(session: Session, q: str) -> list[int]:
    found: set[int] = set()
    for statement, id_column in searches(Alert.__table__.select(), q, indexed=True):
        found.update(session.scalars(page(statement, id_column, cursor=None, limit=10_000)))
    return sorted(found)


def _scanned(db: sqlite3.Connection, q: str) -> list[int]:
    rows = db.execute("SELECT id, summary, dedup_key FROM alerts ORDER BY id")
    return [id_ for id_, s, k in rows if q.lower() in s.lower() or q.lower() in k.lower()]


def _agree(db: sqlite3.Connection, session: Session) -> None:
    for q in TERMS:
        assert _searched(session, q) == _scanned(db, q), q


def test_sqlite_index_answers_what_a_scan_does(store: tuple[sqlite3.Connection, Session]) -> None:
    db, session = store
    _insert(db, range(2_500))
    assert db.execute("SELECT indexed_to FROM alerts_fts_state").fetchone() == (2_000,)
    assert db.execute("SELECT count(*) FROM alerts_fts_stale").fetchone() == (0,)
    _agree(db, session)
    with db:  # changed and deleted after indexing; one id reused below the watermark
        db.execute("UPDATE alerts SET summary = 'now svc-999999' WHERE id IN (5, 2100)")
        db.execute("UPDATE alerts SET summary = summary, count = 2 WHERE id = 6")
        db.execute("DELETE FROM alerts WHERE id IN (7, 8)")
        db.execute(_INSERT_AT, (8, *_row(1)))
    assert [r[0] for r in db.execute("SELECT alert_id FROM alerts_fts_stale")] == [5, 7, 8]
    assert _searched(session, "svc-999999") == [5, 2_100]
    _agree(db, session)
    _insert(db, range(2_500, 3_100))  # the next bulk step re-indexes the stale rows
    assert db.execute("SELECT count(*) FROM alerts_fts_stale").fetchone() == (0,)
    assert db.execute("SELECT indexed_to FROM alerts_fts_state").fetchone() == (3_000,)
    _agree(db, session)


def test_indexed_rows_come_from_the_index(store: tuple[sqlite3.Connection, Session]) -> None:
    db, session = store
    _insert(db, range(1_000))
    # All at or below the watermark and none stale: only the FTS5 table can find them.
    assert db.execute("SELECT indexed_to FROM alerts_fts_state").fetchone() == (1_000,)
    assert _searched(session, "payments-db-3") == _scanned(db, "payments-db-3") != []
    [indexed, newer, stale] = [
        _plan(db, page(statement, id_column, cursor=None, limit=100))
        for statement, id_column in searches(Alert.__table__.select(), "db-3", indexed=True)
    ]
    assert "SCAN alerts_fts VIRTUAL TABLE INDEX" in indexed
    for plan in (indexed, newer, stale):  # never a scan of the whole table
        assert "SEARCH alerts USING INTEGER PRIMARY KEY" in plan
        assert "SCAN alerts\n" not in plan + "\n"


def _plan(db: sqlite3.Connection, statement: Any) -> str:
    sql = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    return "\n".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))


def test_terms_without_a_trigram_scan() -> None:
    assert fts_query("ab") is None
    assert fts_query("ab%cd_e") is None
    assert fts_query("payments-db") == '"pay" AND "men" AND "ts-" AND "-db"'
    assert fts_query('a"bc') == '"a""b" AND """bc"'
    assert fts_query("abc%def") == '"abc" AND "def"'
    assert fts_query("abcd\x00efg") == '"abc" AND "bcd"'


def test_migrating_a_store_with_alerts_indexes_them(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    command.upgrade(alembic_config(url), "0001")
    db = sqlite3.connect(tmp_path / "skillpager.db")
    _insert(db, range(1_500))
    upgrade_to_head(url)
    assert db.execute("SELECT indexed_to FROM alerts_fts_state").fetchone() == (1_500,)
    engine = create_engine(f"sqlite:///{tmp_path / 'skillpager.db'}")
    with Session(engine) as session:
        _agree(db, session)
    engine.dispose()
    command.downgrade(alembic_config(url), "0001")
    assert db.execute("SELECT count(*) FROM alerts").fetchone() == (1_500,)
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert not any(name.startswith("alerts_fts") for name in names)
    db.close()


# --- through the API, on SQLite and PostgreSQL -----------------------------------------------


async def _post(app: RunningApp, alerts: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = (await post_generic(app, alerts))["alerts"]
    return ids


async def _search(app: RunningApp, q: str, **params: Any) -> list[int]:
    ids: list[int] = []
    cursor: str | None = None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        answer = await app.client.get(
            "/api/alerts", params={"q": q, **params, **extra}, headers=app.reader_headers()
        )
        assert answer.status_code == 200, answer.text
        ids += [item["id"] for item in answer.json()["items"]]
        cursor = answer.json()["next"]
        if cursor is None:
            return ids


async def test_search_by_substring_through_the_api(app: RunningApp) -> None:
    [lag, other] = await _post(
        app,
        [
            {"summary": "Replica lag 47s", "dedup_key": "Payments-DB-3:lag"},
            {"summary": "Disk 91% full on kafka-2", "dedup_key": "kafka-2:disk"},
        ],
    )
    fillers = [
        id_
        for n in range(11)  # past SQLite's first bulk step: the two above come from the index
        for id_ in await _post(
            app,
            [
                {"summary": f"filler {n}-{i}", "dedup_key": f"f{n}-{i}", "status": "resolved"}
                for i in range(100)
            ],
        )
    ]
    assert await _search(app, "lag 47") == [lag]  # inside the summary, across a space
    assert await _search(app, "payments-db") == [lag]  # any case, in the dedup key
    assert await _search(app, "DB-3:LA") == [lag]
    assert await _search(app, "7s") == [lag]  # too short for the index: scanned
    assert await _search(app, "lag_47") == [lag]  # `_` is LIKE's any character, as before
    assert await _search(app, "FULL on kafka") == [other]
    assert await _search(app, "filler", limit=300) == sorted(fillers, reverse=True)
    assert await _search(app, "filler 3-", status="resolved") == sorted(fillers[300:400])[::-1]
    await _post(app, [{"summary": "Replica lag 3s", "dedup_key": "Payments-DB-3:lag"}])
    assert await _search(app, "lag 3s") == [lag]  # the new summary of the same open row
    assert await _search(app, "lag 47") == []
    assert await _search(app, "lag 3s", status="firing") == [lag]


# --- PostgreSQL's trigram indexes ------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_searches_through_trigram_indexes(postgres_databases: PostgresDatabases) -> None:
    url = postgres_databases.fresh()
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def explain() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            # An empty table is best scanned: rule out the scans to see the index can serve.
            await conn.execute("SET enable_seqscan = off; SET enable_indexscan = off")
            rows = await conn.fetch(
                "EXPLAIN SELECT id FROM alerts WHERE summary ILIKE $1 OR dedup_key ILIKE $1"
                " ORDER BY id DESC LIMIT 101",
                "%payments-db%",
            )
        finally:
            await conn.close()
        return "\n".join(row[0] for row in rows)

    plan = asyncio.run(explain())
    assert "ix_alerts_summary_trgm" in plan
    assert "ix_alerts_dedup_key_trgm" in plan
