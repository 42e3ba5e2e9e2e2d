"""Alertmanager's resolve timeout: a firing API v2 alert not sent again by its `endsAt` resolves.

Prometheus re-sends its firing alerts every minute with an `endsAt` a few evaluation intervals
ahead; one that stops (its rule deleted, Prometheus gone) is resolved at that `endsAt`. The
expiry lives on the alert row, so a restart loses none: each engine cycle hands the writer what
expired, as the resolved webhook message Alertmanager itself would send (its raw event replays
through the alertmanager parser).

A re-send racing this check (committed between its read and its resolve) reopens the key as a
new firing cycle; such a re-send comes three evaluation intervals late, so it is rare.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.clock import as_utc
from app.heartbeats.sink import AlertSink
from app.ingest import alertmanager
from app.ingest.writer import Submission
from app.store import alert_queries
from app.store.database import Database

_BATCH = 500  # rows per cycle; the rest go on the next
RECEIVER = "skillpager-expiry"


class AlertExpiry:
    """Resolves expired Alertmanager alerts once per engine cycle, through the writer."""

    def __init__(self, db: Database, sink: AlertSink) -> None:
        self._db = db
        self._sink = sink

    async def check(self, now: datetime) -> None:
        """Resolve, at their expiry, the firing rows whose expiry has passed."""
        rows = await self._db.transaction(
            lambda conn: alert_queries.expired(conn, alertmanager.SOURCE, now, limit=_BATCH)
        )
        if not rows:
            return
        body = json.dumps(resolved_message(rows), sort_keys=True).encode()
        alerts = alertmanager.parse(body)
        await self._sink.submit(Submission(alertmanager.SOURCE, body, {}, alerts))


def resolved_message(rows: Sequence[Any]) -> dict[str, Any]:
    """The Alertmanager webhook message (version 4) resolving `rows` at their expiry."""
    return {
        "version": "4",
        "status": "resolved",
        "receiver": RECEIVER,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "alerts": [_resolved(row) for row in rows],
    }


def _resolved(row: Any) -> dict[str, Any]:
    return {
        "status": "resolved",
        "labels": row.labels,
        "annotations": {"summary": row.summary},
        "startsAt": as_utc(row.started_at).isoformat(),
        "endsAt": as_utc(row.expires_at).isoformat(),
        "generatorURL": row.source_url or "",
        "fingerprint": row.dedup_key.removeprefix(f"{alertmanager.SOURCE}:"),
    }
