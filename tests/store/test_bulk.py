"""The ingest's bulk writes store what SQLAlchemy's own executemany would, read back alike."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, DateTime, insert, select
from sqlalchemy.dialects import sqlite

from app.store.bulk import bulk_insert, bulk_update_by_id, sqlite_datetime, sqlite_json
from app.store.database import Database
from app.store.tables import Base

_alerts = Base.metadata.tables["alerts"]
_SQLITE = sqlite.dialect()
_datetime_bind = DateTime(timezone=True).dialect_impl(_SQLITE).bind_processor(_SQLITE)
_json_bind = JSON().dialect_impl(_SQLITE).bind_processor(_SQLITE)


_NAIVE_1900 = datetime(1900, 1, 1)  # noqa: DTZ001 - hypothesis bounds are naive


def _minutes(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.datetimes(min_value=_NAIVE_1900)
    | st.datetimes(
        min_value=_NAIVE_1900,
        timezones=st.builds(timezone, st.integers(-840, 840).map(_minutes)),
    )
)
def test_datetimes_are_written_as_sqlalchemy_writes_their_utc_time(value: datetime) -> None:
    assert _datetime_bind is not None
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    assert sqlite_datetime(value) == _datetime_bind(utc)


@given(_json_values)
def test_json_reads_back_as_sqlalchemy_json_does(value: Any) -> None:
    assert _json_bind is not None
    assert json.loads(sqlite_json(value)) == json.loads(_json_bind(value)) == value


def _row(key: str, **changes: Any) -> dict[str, Any]:
    now = datetime(2026, 11, 27, 23, 49, 8, 123456, tzinfo=UTC)
    row = {
        "source": "generic",
        "dedup_key": key,
        "status": "firing",
        "severity": "critical",
        "severity_note": None,
        "summary": f"{key} is down",
        "labels": {"service": key, "é": ["x", 1, None]},
        "started_at": now,
        "ended_at": None,
        "first_seen_at": now,
        "last_seen_at": now,
        "count": 1,
        "source_url": None,
        "runbook_url": "https://runbooks.example/" + key,
        "incident_id": None,
    }
    return row | changes


async def test_bulk_rows_read_back_like_sqlalchemy_rows(database_url: str) -> None:
    db = Database(database_url)
    try:
        later = datetime(2026, 11, 28, 1, 2, 3, 4, tzinfo=UTC)

        def write(conn: Any) -> None:
            conn.execute(insert(_alerts), [_row("orm", id=1)])
            bulk_insert(conn, _alerts, [_row("bulk", id=2), _row("other", id=3)])
            bulk_update_by_id(
                conn,
                _alerts,
                [
                    {"id": 2, "status": "resolved", "ended_at": later, "labels": {"a": "b"}},
                    {"id": 3, "status": "resolved", "ended_at": later, "labels": {}},
                ],
            )

        await db.transaction(write)
        rows = await db.transaction(
            lambda conn: conn.execute(select(_alerts).order_by(_alerts.c.id)).mappings().all()
        )
        # Stored times compare like SQLAlchemy's: one range filter finds rows of both paths.
        cutoff = datetime(2026, 11, 28, tzinfo=UTC)
        before_cutoff = await db.transaction(
            lambda conn: (
                conn.execute(
                    select(_alerts.c.id).where(_alerts.c.started_at < cutoff).order_by(_alerts.c.id)
                )
                .scalars()
                .all()
            )
        )
    finally:
        await db.dispose()
    orm, bulk, other = (dict(row) for row in rows)
    same = ("source", "severity", "severity_note", "started_at", "first_seen_at", "count")
    assert [bulk[c] for c in same] == [orm[c] for c in same]
    assert orm["labels"] == {"service": "orm", "é": ["x", 1, None]}
    assert (bulk["status"], bulk["labels"], other["labels"]) == ("resolved", {"a": "b"}, {})
    assert bulk["ended_at"].replace(tzinfo=UTC) == later
    assert orm["ended_at"] is None
    assert before_cutoff == [1, 2, 3]
