"""Text search over alerts (`q=`): the answers of a substring scan, found through an index.

`q` matches an alert whose summary or dedup key contains it, ignoring ASCII case, with `%` and
`_` as LIKE wildcards (what `q` always meant). Every candidate the index finds is checked against
that same ILIKE, so an index only ever narrows, never changes, the answers.

- PostgreSQL: pg_trgm GIN indexes on summary and dedup_key (migration 0002) serve the ILIKE as is.
- SQLite: `alerts_fts`, an FTS5 trigram table holding only which rows contain each three-character
  sequence (contentless, detail=none). Triggers index new rows in bulk at every 1,000th id, as
  FTS5 row by row cost ~45 µs per inserted alert against ~8 µs in bulk; the rows past that
  watermark, and rows changed or deleted since they were indexed ("stale"), are scanned instead.
  A term without a literal run of three characters (between wildcards) cannot use the index and
  scans the table, newest first, as before.
"""

from typing import Any

from sqlalchemy import Integer, Select, column, literal_column, or_, select, table
from sqlalchemy.sql.elements import ColumnElement

from app.store.tables import Alert

# What migration 0002 creates outside the SQLAlchemy metadata (Alembic's comparison skips them):
# SQLite tables (the FTS5 table's own shadow tables share its prefix) and PostgreSQL indexes.
SQLITE_TABLE_PREFIX = "alerts_fts"
POSTGRES_INDEXES = ("ix_alerts_summary_trgm", "ix_alerts_dedup_key_trgm")

_fts = table("alerts_fts", column("rowid", Integer))
_state = table("alerts_fts_state", column("indexed_to", Integer))
_stale = table("alerts_fts_stale", column("alert_id", Integer))
_GRAM = 3


def is_search_object(name: str | None) -> bool:
    """True for a table or index of the text search (kept outside the metadata)."""
    if name is None:
        return False
    return name.startswith(SQLITE_TABLE_PREFIX) or name in POSTGRES_INDEXES


def text_match(q: str) -> ColumnElement[bool]:
    """The condition `q` stands for: summary or dedup key ILIKE %q%."""
    pattern = f"%{q}%"
    return or_(Alert.summary.ilike(pattern), Alert.dedup_key.ilike(pattern))


def fts_query(q: str) -> str | None:
    """An FTS5 query every row matching `q` satisfies, or None when `q` has no trigram to use.

    Non-overlapping trigrams covering each literal run: a trigram of a common word is in most
    rows and costs time to intersect, and the ILIKE check does the exact matching anyway.
    """
    grams: list[str] = []
    # Runs between LIKE's wildcards, up to a NUL: SQLite's LIKE ends the pattern there.
    for run in q.split("\x00")[0].replace("_", "%").split("%"):
        starts = list(range(0, len(run) - _GRAM + 1, _GRAM))
        if starts and starts[-1] != len(run) - _GRAM:
            starts.append(len(run) - _GRAM)
        grams += [run[start : start + _GRAM] for start in starts]
    terms = ['"' + gram.replace('"', '""') + '"' for gram in dict.fromkeys(grams)]
    return " AND ".join(terms) or None


def searches(query: Select[Any], q: str, *, indexed: bool) -> list[tuple[Select[Any], Any]]:
    """(statement, id column) pairs whose rows, together, are `query`'s alerts matching `q`.

    Each is to be paged newest first by its id column. With `indexed` (SQLite's FTS5 table),
    the indexed rows come from the index, the few newer or stale ones from their own lists.
    """
    matching = query.where(text_match(q))
    terms = fts_query(q) if indexed else None
    if terms is None:
        return [(matching, Alert.id)]
    from_index = matching.join(_fts, _fts.c.rowid == Alert.id).where(
        literal_column("alerts_fts").op("MATCH")(terms)
    )
    # Apart, not OR-ed: each is a rowid search on its own, together SQLite scans the table.
    newer = matching.where(Alert.id > select(_state.c.indexed_to).scalar_subquery())
    stale = matching.where(Alert.id.in_(select(_stale.c.alert_id)))
    return [(from_index, _fts.c.rowid), (newer, Alert.id), (stale, Alert.id)]
