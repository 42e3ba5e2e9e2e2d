"""Apply a batch of parsed alert events to the alerts table (§3 "Alerts and incidents").

A firing event updates the open row of its key or inserts one; a resolved event closes the open
row; a resolved event for a key with no open row touches that key's latest resolved row
(redeliveries) or, for an unknown key, is stored as a resolved row that opens nothing.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.core.alert import AlertStatus, ParsedAlert
from app.store.bulk import bulk_insert, bulk_update_by_id
from app.store.tables import Base
from app.store.upsert import insert_returning_ids

_CHUNK = 500  # keys per IN (...) query, well under every driver's parameter limit
_alerts = Base.metadata.tables["alerts"]


@dataclass(slots=True)
class AlertRow:
    """The in-memory state of one alert row while a batch is applied."""

    id: int | None
    source: str
    dedup_key: str
    status: str
    severity: str
    severity_note: str | None
    summary: str
    labels: dict[str, str]
    started_at: datetime
    ended_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    count: int
    source_url: str | None
    runbook_url: str | None
    incident_id: int | None = None
    expires_at: datetime | None = None
    dirty: bool = False
    newly_firing: bool = False
    acknowledged: bool = False  # its monitor acknowledged it in this batch (PagerDuty events)
    grouping_only: bool = False  # its source is over its ingest limit: join, never open
    raw_event_ids: set[int] = field(default_factory=set)

    def values(self) -> dict[str, Any]:
        """Column values for an INSERT or UPDATE."""
        return {
            "source": self.source,
            "dedup_key": self.dedup_key,
            "status": self.status,
            "severity": self.severity,
            "severity_note": self.severity_note,
            "summary": self.summary,
            "labels": self.labels,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "first_seen_at": self.first_seen_at,
            "last_seen_at": self.last_seen_at,
            "count": self.count,
            "source_url": self.source_url,
            "runbook_url": self.runbook_url,
            "incident_id": self.incident_id,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    """One input event and the row it landed on."""

    row: AlertRow
    raw_event_id: int


def apply_events(
    conn: Connection, events: Sequence[tuple[ParsedAlert, int]], *, now: datetime
) -> list[AppliedEvent]:
    """Upsert rows for (alert, raw event id) pairs in order; rows are flushed by `flush_rows`."""
    keys = {(alert.source, alert.dedup_key) for alert, _ in events}
    open_rows = _load_rows(conn, keys, open_only=True)
    resolved_keys = {
        (a.source, a.dedup_key)
        for a, _ in events
        if a.status == AlertStatus.RESOLVED and (a.source, a.dedup_key) not in open_rows
    }
    latest_closed = _load_rows(conn, resolved_keys, open_only=False)
    applied = []
    for alert, raw_id in events:
        row = _apply_one(alert, open_rows, latest_closed, now)
        if row is not None:
            row.raw_event_ids.add(raw_id)
            applied.append(AppliedEvent(row=row, raw_event_id=raw_id))
    return applied


def _apply_one(
    alert: ParsedAlert,
    open_rows: dict[tuple[str, str], AlertRow],
    latest_closed: dict[tuple[str, str], AlertRow],
    now: datetime,
) -> AlertRow | None:
    key = (alert.source, alert.dedup_key)
    row = open_rows.get(key)
    if alert.status == AlertStatus.ACKNOWLEDGED:
        # A PagerDuty-style ack carries no alert content: it touches the open row, if any,
        # and never creates one (the raw event is kept either way).
        if row is None:
            return None
        row.acknowledged = True
        return _touch(row, now)
    if alert.status == AlertStatus.RESOLVED:
        if row is not None:
            del open_rows[key]
            latest_closed[key] = row
            row.status = AlertStatus.RESOLVED
            row.ended_at = alert.ended_at or now
            row.expires_at = None
            return _touch(row, now)
        closed = latest_closed.get(key)
        if closed is not None:
            return _touch(closed, now)
        row = _new_row(alert, now)
        row.ended_at = alert.ended_at or now
        latest_closed[key] = row
        return row
    if row is None:
        row = _new_row(alert, now)
        row.newly_firing = True
        open_rows[key] = row
        return row
    row.severity, row.severity_note = alert.severity, alert.severity_note
    row.summary, row.labels = alert.summary, dict(alert.labels)
    row.source_url = alert.source_url or row.source_url
    row.runbook_url = alert.runbook_url or row.runbook_url
    row.expires_at = alert.expires_at  # a re-send moves the expiry (or drops it)
    return _touch(row, now)


def _touch(row: AlertRow, now: datetime) -> AlertRow:
    row.last_seen_at = now
    row.count += 1
    row.dirty = True
    return row


def _new_row(alert: ParsedAlert, now: datetime) -> AlertRow:
    firing = alert.status != AlertStatus.RESOLVED
    return AlertRow(
        id=None,
        source=alert.source,
        dedup_key=alert.dedup_key,
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        severity=alert.severity,
        severity_note=alert.severity_note,
        summary=alert.summary,
        labels=dict(alert.labels),
        started_at=alert.started_at or now,
        ended_at=None,
        first_seen_at=now,
        last_seen_at=now,
        count=1,
        source_url=alert.source_url,
        runbook_url=alert.runbook_url,
        expires_at=alert.expires_at if firing else None,
        dirty=True,
    )


def _load_rows(
    conn: Connection, keys: Iterable[tuple[str, str]], *, open_only: bool
) -> dict[tuple[str, str], AlertRow]:
    by_source: dict[str, list[str]] = {}
    for source, key in sorted(set(keys)):
        by_source.setdefault(source, []).append(key)
    found: dict[tuple[str, str], AlertRow] = {}
    for source, dedup_keys in by_source.items():
        for start in range(0, len(dedup_keys), _CHUNK):
            chunk = dedup_keys[start : start + _CHUNK]
            query = _OPEN_ROWS if open_only else _LATEST_CLOSED_ROWS
            for record in conn.execute(query, {"source": source, "keys": chunk}).mappings():
                found[(source, record["dedup_key"])] = _row_from_record(record)
    return found


# Built once: building a statement per batch cost more than running it. `source = ?` lets the
# planner use the partial unique index (source, dedup_key) of open rows; without it SQLite
# scans every firing row through (status, id).
_OF_KEYS = (
    _alerts.c.source == bindparam("source"),
    _alerts.c.dedup_key.in_(bindparam("keys", expanding=True)),
)
_OPEN_ROWS = select(_alerts).where(*_OF_KEYS, _alerts.c.status == "firing")
_LATEST_CLOSED_ROWS = select(_alerts).where(
    _alerts.c.id.in_(select(func.max(_alerts.c.id)).where(*_OF_KEYS).group_by(_alerts.c.dedup_key)),
    _alerts.c.status == "resolved",
)


def _row_from_record(record: Any) -> AlertRow:
    ended, expires = record["ended_at"], record["expires_at"]
    return AlertRow(
        id=record["id"],
        source=record["source"],
        dedup_key=record["dedup_key"],
        status=record["status"],
        severity=record["severity"],
        severity_note=record["severity_note"],
        summary=record["summary"],
        labels=record["labels"],
        started_at=as_utc(record["started_at"]),
        ended_at=as_utc(ended) if ended is not None else None,
        first_seen_at=as_utc(record["first_seen_at"]),
        last_seen_at=as_utc(record["last_seen_at"]),
        count=record["count"],
        source_url=record["source_url"],
        runbook_url=record["runbook_url"],
        incident_id=record["incident_id"],
        expires_at=as_utc(expires) if expires is not None else None,
    )


def flush_rows(conn: Connection, rows: Iterable[AlertRow]) -> None:
    """Insert new rows (filling their ids), update changed ones, and link their raw events."""
    unique = list({id(row): row for row in rows}.values())
    new = [row for row in unique if row.id is None]
    changed = [row for row in unique if row.id is not None and row.dirty]
    # Updates first: a key that resolved and fired again within one batch closes its stored
    # open row here, and only then may its new firing row pass the open-key unique index.
    bulk_update_by_id(conn, _alerts, [{"id": row.id, **row.values()} for row in changed])
    if new:
        ids = insert_returning_ids(conn, _alerts, [row.values() for row in new])
        for row, new_id in zip(new, ids, strict=True):
            row.id = new_id
    links = [
        {"alert_id": row.id, "raw_event_id": raw_id}
        for row in unique
        for raw_id in row.raw_event_ids
    ]
    bulk_insert(conn, Base.metadata.tables["alert_raw_events"], links)
