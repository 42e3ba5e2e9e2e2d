"""Provider health: a misconfigured or failing paging provider becomes an incident for the lead.

The sender's outcome recorder notes provider-side failures (credentials or sender setup wrong —
a config error — and server errors or unreachability) in `provider_health`, inside
its own transaction. Each engine cycle, the watcher raises an unrouted critical alert for a
channel with a config error, or failing for `OUTAGE_WINDOW` without a success, so the lead is
paged on whatever still works; a page sent on that channel after the last failure resolves it.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.core.alert import AlertStatus, ParsedAlert, Severity
from app.heartbeats.sink import AlertSink, submit_alert
from app.store.database import Database
from app.store.tables import Base
from app.store.upsert import insert_ignore

log = logging.getLogger(__name__)

SOURCE = "skillpager"
OUTAGE_WINDOW = timedelta(minutes=5)
_NAMES = {"sms": "SMS", "slack": "Slack", "voice": "Voice"}
_health = Base.metadata.tables["provider_health"]
_pages = Base.metadata.tables["pages"]


@dataclass(frozen=True, slots=True)
class ProviderFailure:
    """A send that failed on the provider's side, as paging reports it."""

    code: str
    message: str
    config_error: bool  # our credentials or sender setup are wrong
    outage: bool  # a server error or unreachability, not a rate limit


def note_provider_error(
    conn: Connection, *, channel: str, page_id: int, error: ProviderFailure, now: datetime
) -> None:
    """Remember a config error or outage of `channel`'s provider; other failures are ignored."""
    if not (error.config_error or error.outage):
        return
    text = f"{error.code} {error.message}".strip()[:500]
    fresh = {
        "channel": channel,
        "failing_since": now,
        "last_failure_at": now,
        "last_page_id": page_id,
        "last_error": text,
        "config_error": error.config_error,
        "raised_at": None,
    }
    if insert_ignore(conn, _health, [fresh]):
        return
    row = conn.execute(select(_health).where(_health.c.channel == channel)).one()
    # Failures far apart, with nothing raised yet, are not one outage: start a new run.
    stale = row.raised_at is None and now - as_utc(row.last_failure_at) > OUTAGE_WINDOW
    conn.execute(
        update(_health)
        .where(_health.c.channel == channel)
        .values(
            failing_since=now if stale else row.failing_since,
            last_failure_at=now,
            last_page_id=max(page_id, row.last_page_id),
            last_error=text,
            config_error=error.config_error or (row.config_error and not stale),
        )
    )


def provider_alert(channel: str, status: AlertStatus, summary: str) -> ParsedAlert:
    """The alert about `channel`'s provider; no system matches it, so it pages the lead."""
    return ParsedAlert(
        SOURCE,
        f"skillpager:provider:{channel}",
        status,
        Severity.CRITICAL,
        summary[:300],
        {"alertname": "SkillpagerProviderFailing", "channel": channel},
    )


class ProviderWatcher:
    """Raises and resolves provider incidents from `provider_health`, once per engine cycle."""

    def __init__(self, db: Database, sink: AlertSink) -> None:
        self._db = db
        self._sink = sink

    async def check(self, now: datetime) -> None:
        """Raise what is due, resolve what works again; idempotent."""
        for row, recovered in await self._db.transaction(_read):
            if recovered:
                await self._recover(row, now)
            elif row.raised_at is None and _due(row):
                await self._raise(row, now)

    async def _raise(self, row: Any, now: datetime) -> None:
        name = _NAMES.get(row.channel, row.channel)
        summary = f"{name} provider failing: {row.last_error}"
        if not row.config_error:
            summary = f"{name} provider failing for 5 minutes: {row.last_error}"
        await self._submit(provider_alert(row.channel, AlertStatus.FIRING, summary))
        await self._db.transaction(partial(_set_raised, channel=row.channel, now=now))
        log.error("%s", summary, extra={"channel": row.channel})

    async def _recover(self, row: Any, now: datetime) -> None:
        if row.raised_at is not None:
            name = _NAMES.get(row.channel, row.channel)
            note = f"{name} provider works again"
            await self._submit(provider_alert(row.channel, AlertStatus.RESOLVED, note))
            log.info("%s", note, extra={"channel": row.channel})
        await self._db.transaction(partial(_clear, row=row, now=now))

    async def _submit(self, alert: ParsedAlert) -> None:
        event = {"provider": alert.labels["channel"], "status": alert.status.value}
        await submit_alert(self._sink, alert, event)


def _due(row: Any) -> bool:
    run = as_utc(row.last_failure_at) - as_utc(row.failing_since)
    return bool(row.config_error) or run >= OUTAGE_WINDOW


def _read(conn: Connection) -> list[tuple[Any, bool]]:
    """Each failing channel, and whether a page was sent on it after its last failure."""
    rows = conn.execute(select(_health)).all()
    return [(row, _sent_after(conn, row.channel, row.last_page_id)) for row in rows]


def _sent_after(conn: Connection, channel: str, page_id: int) -> bool:
    # Page ids grow with time: the primary key range after the failure is a short scan.
    later = select(_pages.c.id).where(
        _pages.c.id > page_id, _pages.c.channel == channel, _pages.c.sent_at.is_not(None)
    )
    return bool(conn.execute(select(exists(later))).scalar())


def _set_raised(conn: Connection, channel: str, now: datetime) -> None:
    conn.execute(
        update(_health)
        .where(_health.c.channel == channel, _health.c.raised_at.is_(None))
        .values(raised_at=now)
    )


def _clear(conn: Connection, row: Any, now: datetime) -> None:
    gone = conn.execute(
        delete(_health).where(
            _health.c.channel == row.channel, _health.c.last_page_id == row.last_page_id
        )
    )
    if not gone.rowcount:
        # It failed again meanwhile: what was raised is resolved, so this is a new run.
        conn.execute(
            update(_health)
            .where(_health.c.channel == row.channel)
            .values(raised_at=None, failing_since=now)
        )
