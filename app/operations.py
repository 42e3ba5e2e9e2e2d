"""Operator commands that work on the store directly: replay a raw event, send a test page,
report channel health. The CLI calls these; each prints what it did and returns an exit code."""

import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.clock import SystemClock
from app.config import Settings
from app.escalation.grouping import IncidentDesk
from app.escalation.outbox import channels_for, contact_check_rows
from app.ingest.base import ParseError, SchemaError
from app.ingest.registry import parser_for
from app.ingest.writer import Submission, Writer
from app.metrics import Metrics
from app.paging.channels import build_channels
from app.paging.sender import Sender
from app.paging.throttle import SmsThrottle
from app.routing.holder import RulesHolder
from app.routing.schema import Channel
from app.store.database import Database
from app.store.tables import Base
from app.store.upsert import insert_ignore

_raw_events = Base.metadata.tables["raw_events"]
_pages = Base.metadata.tables["pages"]
_states = Base.metadata.tables["engineer_states"]


async def replay(settings: Settings, event_id: int) -> int:
    """Run a stored raw event through today's parser and rules, as a new delivery."""
    db = Database(settings.database_url)
    clock = SystemClock()
    try:
        raw = await db.transaction(
            lambda conn: conn.execute(
                select(_raw_events).where(_raw_events.c.id == event_id)
            ).first()
        )
        if raw is None:
            print(f"no raw event {event_id}", file=sys.stderr)
            return 1
        parse = parser_for(raw.source)
        if parse is None:
            print(f"raw event {event_id} is from an unknown source {raw.source!r}", file=sys.stderr)
            return 1
        try:
            alerts = parse(raw.body)
        except (ParseError, SchemaError) as exc:
            print(f"today's {raw.source} parser still rejects it: {exc}", file=sys.stderr)
            return 1
        holder = RulesHolder(settings.rules_dir, clock=clock)
        desk = IncidentDesk(holder, public_url=settings.public_url)
        writer = Writer(db, clock=clock, metrics=Metrics(), timeout_s=30, incident_hook=desk)
        headers = dict(raw.headers or {}) | {"x-skillpager-replay-of": str(event_id)}
        submission = Submission(raw.source, raw.body, headers, alerts)
        now = clock.now()
        result = (await db.transaction(lambda conn: writer.write(conn, [submission], now)))[0][0]
        print(
            json.dumps(
                {
                    "raw_event": result.raw_event_id,
                    "alerts": result.alert_ids,
                    "incidents": result.incident_ids,
                }
            )
        )
        return 0
    finally:
        await db.dispose()


async def page_test(settings: Settings, engineer: str, channel: str | None) -> int:
    """Send a harmless test page to an engineer now, on one channel or all of theirs."""
    clock = SystemClock()
    holder = RulesHolder(settings.rules_dir, clock=clock)
    person = holder.rules.engineers.get(engineer)
    if person is None:
        print(f"no engineer {engineer!r} in {settings.rules_dir}", file=sys.stderr)
        return 1
    wanted = [Channel(channel)] if channel else channels_for(person, ())
    rows = contact_check_rows(engineer, person, wanted, clock.now())
    if not rows:
        print(f"{engineer} has no contact for {channel or 'any channel'}", file=sys.stderr)
        return 1
    db = Database(settings.database_url)
    channels = build_channels(settings)
    try:
        ids = await db.transaction(lambda conn: insert_ignore(conn, _pages, rows))
        sender = Sender(db, channels, clock=clock, rules=holder, throttle=SmsThrottle.off())
        await sender.run_once()
        results = await db.transaction(lambda conn: _page_results(conn, ids))
        for row in results:
            print(f"{row.channel:<6} {row.status:<8} {row.provider_id or row.last_error or ''}")
        return 0 if all(row.status in ("sent", "delivered") for row in results) else 1
    finally:
        for client in channels.values():
            await client.aclose()
        await db.dispose()


def _page_results(conn: Connection, ids: list[Any]) -> list[Any]:
    return list(conn.execute(select(_pages).where(_pages.c.id.in_(ids)).order_by(_pages.c.id)))


async def channel_health(settings: Settings) -> list[str]:
    """One line per engineer channel the service found unable to receive (empty: all fine).

    Raises OSError when the SQLite file does not exist (checking must not create it).
    """
    if settings.is_sqlite:
        path = settings.database_url.split(":///", 1)[1]
        if not Path(path).exists():  # noqa: ASYNC240 - one stat in a CLI command
            raise FileNotFoundError(path)
    db = Database(settings.database_url)
    try:
        rows = await db.transaction(lambda conn: list(conn.execute(select(_states))))
    finally:
        await db.dispose()
    lines = []
    for row in rows:
        for channel in ("sms", "voice", "slack"):
            reason = getattr(row, f"{channel}_unhealthy")
            if reason:
                lines.append(f"{row.engineer}: {channel} failing ({reason})")
        if row.sms_opted_out:
            lines.append(f"{row.engineer}: sms off (replied STOP)")
    return lines
