"""alert text search: FTS5 trigram index on SQLite, pg_trgm indexes on PostgreSQL

What `GET /api/alerts?q=` searches (summary and dedup key) gets an index; app/store/search.py
reads it. None of this is in the SQLAlchemy metadata: migrations/env.py leaves it out of
Alembic's comparison.

SQLite: `alerts_fts` is an FTS5 trigram table that stores only which rows hold each trigram
(contentless, detail=none, no column sizes). Indexing row by row from an insert trigger cost ~45 µs
per alert (FTS5 flushes its pending terms at every statement), so the insert trigger indexes in
bulk instead: at every 1,000th id it indexes all rows up to that id past the watermark
(`alerts_fts_state.indexed_to`). A row updated (summary or dedup key) or deleted after it was
indexed is put in `alerts_fts_stale` with the values it was indexed with, and re-indexed at the
next bulk step. Searches scan the rows past the watermark and the stale ones.

PostgreSQL: GIN trigram indexes on both columns. Downgrade keeps the pg_trgm extension, which
other schemas in the database may use.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UPGRADE = (
    "CREATE VIRTUAL TABLE alerts_fts USING fts5(summary, dedup_key, tokenize='trigram',"
    " content='', detail=none, columnsize=0)",
    "CREATE TABLE alerts_fts_state (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " indexed_to INTEGER NOT NULL)",
    "CREATE TABLE alerts_fts_stale (alert_id INTEGER PRIMARY KEY, summary TEXT, dedup_key TEXT)",
    "INSERT INTO alerts_fts(rowid, summary, dedup_key) SELECT id, summary, dedup_key FROM alerts",
    "INSERT INTO alerts_fts_state VALUES (1, (SELECT coalesce(max(id), 0) FROM alerts))",
    # Every 1,000th id: drop what the stale rows were indexed with, index them as they are now
    # (deleted ones are gone from alerts, so not re-indexed), then every row past the watermark.
    """CREATE TRIGGER alerts_fts_catch_up AFTER INSERT ON alerts WHEN new.id % 1000 = 0 BEGIN
  INSERT INTO alerts_fts(alerts_fts, rowid, summary, dedup_key)
    SELECT 'delete', alert_id, summary, dedup_key FROM alerts_fts_stale WHERE summary IS NOT NULL;
  INSERT INTO alerts_fts(rowid, summary, dedup_key)
    SELECT a.id, a.summary, a.dedup_key FROM alerts_fts_stale s JOIN alerts a ON a.id = s.alert_id;
  INSERT INTO alerts_fts(rowid, summary, dedup_key)
    SELECT id, summary, dedup_key FROM alerts
    WHERE id > (SELECT indexed_to FROM alerts_fts_state) AND id <= new.id;
  DELETE FROM alerts_fts_stale;
  UPDATE alerts_fts_state SET indexed_to = max(indexed_to, new.id);
END""",
    # An id at or below the watermark (reused after a delete): indexed with nothing yet.
    """CREATE TRIGGER alerts_fts_late_insert AFTER INSERT ON alerts
WHEN new.id <= (SELECT indexed_to FROM alerts_fts_state) BEGIN
  INSERT OR IGNORE INTO alerts_fts_stale VALUES (new.id, NULL, NULL);
END""",
    # OR IGNORE keeps the first values: those are what the index holds until the next bulk step.
    # The writer rewrites every column of a row it touches; only a real change counts.
    """CREATE TRIGGER alerts_fts_update AFTER UPDATE OF summary, dedup_key ON alerts
WHEN (old.summary IS NOT new.summary OR old.dedup_key IS NOT new.dedup_key)
  AND old.id <= (SELECT indexed_to FROM alerts_fts_state) BEGIN
  INSERT OR IGNORE INTO alerts_fts_stale VALUES (old.id, old.summary, old.dedup_key);
END""",
    """CREATE TRIGGER alerts_fts_delete AFTER DELETE ON alerts
WHEN old.id <= (SELECT indexed_to FROM alerts_fts_state) BEGIN
  INSERT OR IGNORE INTO alerts_fts_stale VALUES (old.id, old.summary, old.dedup_key);
END""",
)
_SQLITE_DOWNGRADE = (
    "DROP TRIGGER alerts_fts_delete",
    "DROP TRIGGER alerts_fts_update",
    "DROP TRIGGER alerts_fts_late_insert",
    "DROP TRIGGER alerts_fts_catch_up",
    "DROP TABLE alerts_fts_stale",
    "DROP TABLE alerts_fts_state",
    "DROP TABLE alerts_fts",
)
_POSTGRES_UPGRADE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_alerts_summary_trgm ON alerts USING gin (summary gin_trgm_ops)",
    "CREATE INDEX ix_alerts_dedup_key_trgm ON alerts USING gin (dedup_key gin_trgm_ops)",
)
_POSTGRES_DOWNGRADE = (
    "DROP INDEX ix_alerts_dedup_key_trgm",
    "DROP INDEX ix_alerts_summary_trgm",
)


def _run(sqlite: Sequence[str], postgres: Sequence[str]) -> None:
    for statement in sqlite if op.get_context().dialect.name == "sqlite" else postgres:
        op.execute(statement)


def upgrade() -> None:
    _run(_SQLITE_UPGRADE, _POSTGRES_UPGRADE)


def downgrade() -> None:
    _run(_SQLITE_DOWNGRADE, _POSTGRES_DOWNGRADE)
