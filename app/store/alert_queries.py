"""Reads of the `alerts` table that the incident core needs (the ingest writer owns its rows).

An incident is routed again from its oldest firing alert, is silenced only when all of its firing
alerts are, and pages with the runbook link of its first alert that sent one.
"""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.store.tables import Base

_alerts = Base.metadata.tables["alerts"]


def still_firing(conn: Connection, ids: Collection[int]) -> set[int]:
    """Of these incidents, those with an alert still firing."""
    return set(
        conn.execute(
            select(_alerts.c.incident_id)
            .where(_alerts.c.incident_id.in_(sorted(ids)), _alerts.c.status == "firing")
            .distinct()
        ).scalars()
    )


def runbook_of(conn: Connection, incident_id: int) -> str | None:
    """The runbook link of an incident's first alert that sent one."""
    found = conn.execute(_RUNBOOK, {"incident": incident_id}).scalar()
    return str(found) if found is not None else None


_RUNBOOK = (
    select(_alerts.c.runbook_url)
    .where(_alerts.c.incident_id == bindparam("incident"), _alerts.c.runbook_url.is_not(None))
    .order_by(_alerts.c.id)
    .limit(1)
)


def first_firing_alert(conn: Connection, incident_id: int) -> Any:
    """The incident's oldest alert row still firing (what routing runs on again), or None."""
    return conn.execute(
        select(_alerts)
        .where(_alerts.c.incident_id == incident_id, _alerts.c.status == "firing")
        .order_by(_alerts.c.id)
        .limit(1)
    ).first()


def first_alert_labels(conn: Connection, incident_id: int) -> dict[str, str]:
    """The labels of the incident's first alert, with its `monitor` (its source), as silences
    match them."""
    found = conn.execute(
        select(_alerts.c.labels, _alerts.c.source)
        .where(_alerts.c.incident_id == incident_id)
        .order_by(_alerts.c.id)
        .limit(1)
    ).first()
    return {**found.labels, "monitor": found.source} if found is not None else {}


def firing_alerts(conn: Connection, incident_id: int) -> list[Any]:
    """The incident's alert rows still firing."""
    return list(
        conn.execute(
            select(_alerts).where(
                _alerts.c.incident_id == incident_id, _alerts.c.status == "firing"
            )
        ).all()
    )


def state_changes(conn: Connection, source: str, dedup_key: str, *, since: datetime) -> int:
    """How often the key started firing or resolved at or after `since`.

    The history is the key's alert rows themselves: each row is one firing cycle, so its
    `first_seen_at` is a change to firing and its `ended_at` a change to resolved. Nothing extra
    is written on the ingest path; this runs only when a key reopens its incident.
    """
    rows = conn.execute(
        select(_alerts.c.first_seen_at, _alerts.c.ended_at, _alerts.c.status).where(
            _alerts.c.source == source,
            _alerts.c.dedup_key == dedup_key,
            or_(_alerts.c.first_seen_at >= since, _alerts.c.ended_at >= since),
        )
    ).all()
    fired = sum(1 for row in rows if as_utc(row.first_seen_at) >= since)
    resolved = sum(
        1
        for row in rows
        if row.status == "resolved" and row.ended_at is not None and as_utc(row.ended_at) >= since
    )
    return fired + resolved


def last_change_at(conn: Connection, incident_id: int, keys: Sequence[str]) -> datetime | None:
    """The latest state change of the incident's rows of `keys`."""
    row = conn.execute(
        select(func.max(_alerts.c.first_seen_at), func.max(_alerts.c.ended_at)).where(
            _alerts.c.incident_id == incident_id, _alerts.c.dedup_key.in_(list(keys))
        )
    ).one()
    moments = [as_utc(moment) for moment in row if moment is not None]
    return max(moments, default=None)


_Keys = dict[int, set[tuple[str, str]]]
_ROWS_OF_KEYS = select(_alerts.c.incident_id, _alerts.c.source, _alerts.c.dedup_key).where(
    _alerts.c.dedup_key.in_(bindparam("keys", expanding=True))
)
_CHUNK = 500


def known_keys(conn: Connection, wanted: _Keys) -> _Keys:
    """Of each incident's (source, key) pairs, those it already had a row of (written before
    this batch)."""
    keys = sorted({key for pairs in wanted.values() for _, key in pairs})
    known: _Keys = {}
    for start in range(0, len(keys), _CHUNK):
        # By key only, filtering incidents here: with an incident condition the planner may
        # walk the incident's index, every row a storm ever sent.
        found = conn.execute(_ROWS_OF_KEYS, {"keys": keys[start : start + _CHUNK]})
        for row in found:
            if row.incident_id in wanted:
                known.setdefault(row.incident_id, set()).add((row.source, row.dedup_key))
    return known


def expired(conn: Connection, source: str, now: datetime, *, limit: int) -> list[Any]:
    """Firing rows of `source` whose expiry has passed (not sent again in time), oldest first."""
    return list(
        conn.execute(
            select(_alerts)
            .where(
                _alerts.c.expires_at <= now,
                _alerts.c.status == "firing",
                _alerts.c.source == source,
            )
            .order_by(_alerts.c.expires_at)
            .limit(limit)
        )
    )
