"""Operator commands that work on the store directly: replay a raw event, send a test page,
report channel health. The CLI calls these; each prints what it did and returns an exit code."""

import asyncio
import difflib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.clock import SystemClock, as_utc
from app.config import Settings
from app.core.alert import ParsedAlert
from app.incidents.desk import IncidentDesk
from app.incidents.page_reports import IncidentPageReports
from app.ingest.base import ParseError, SchemaError
from app.ingest.registry import parser_for
from app.ingest.writer import Submission, Writer
from app.metrics import Metrics
from app.paging.base import ChannelError, mask_phone
from app.paging.channels import build_channels
from app.paging.log_channel import LogChannel
from app.paging.outbox import enqueue
from app.paging.requests import channels_for, contact_checks
from app.paging.sender import Sender
from app.paging.throttle import SmsThrottle
from app.routing.decision import route
from app.routing.holder import RulesHolder
from app.routing.loader import load_rules
from app.routing.report import format_decision
from app.routing.schema import Channel
from app.store.database import Database
from app.store.tables import Base

_raw_events = Base.metadata.tables["raw_events"]
_pages = Base.metadata.tables["pages"]
_states = Base.metadata.tables["engineer_states"]
_alerts = Base.metadata.tables["alerts"]
_links = Base.metadata.tables["alert_raw_events"]
_incidents = Base.metadata.tables["incidents"]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one alert came to: severity, system and who the first steps page (then or today)."""

    severity: str
    system: str | None
    paged: tuple[str, ...]

    def describe(self) -> str:
        paged = ", ".join(self.paged) or "nobody"
        return f"{self.severity}, system {self.system or '(unrouted)'}, pages {paged}"


async def replay_dry_run(settings: Settings, event_id: int) -> int:
    """Show what today's parser and rules do with a stored raw event, and how that differs
    from what happened when it arrived. Stores nothing, pages nobody."""
    db = Database(settings.database_url)
    try:
        raw = await db.transaction(
            lambda conn: conn.execute(
                select(_raw_events).where(_raw_events.c.id == event_id)
            ).first()
        )
        then = await db.transaction(lambda conn: _what_happened(conn, event_id))
    finally:
        await db.dispose()
    if raw is None:
        print(f"no raw event {event_id}", file=sys.stderr)
        return 1
    received = as_utc(raw.received_at)
    print(
        f"raw event {event_id}: {raw.source}, {len(raw.body)} bytes, received "
        f"{received.isoformat()} (dry run: nothing is stored or paged; --apply does)"
    )
    alerts = _parse_stored(raw, event_id)
    if alerts is None:
        return 1
    rules = load_rules(settings.rules_dir)
    today: dict[str, _Outcome] = {}
    print(f"today, routed as at {received:%Y-%m-%d %H:%M} UTC:")
    for number, alert in enumerate(alerts, start=1):
        decision = route(rules, alert, received)
        today[alert.dedup_key] = _outcome(alert.severity, decision.to_json())
        print(format_decision(number, alert, decision), end="\n\n")
    _print_difference(today, then)
    return 0


def _what_happened(conn: Connection, event_id: int) -> dict[str, _Outcome]:
    """Dedup key → what the alerts this raw event touched came to, as stored."""
    rows = conn.execute(
        select(_alerts.c.dedup_key, _alerts.c.severity, _incidents.c.decision)
        .select_from(_links.join(_alerts, _alerts.c.id == _links.c.alert_id))
        .outerjoin(_incidents, _incidents.c.id == _alerts.c.incident_id)
        .where(_links.c.raw_event_id == event_id)
    )
    return {row.dedup_key: _outcome(row.severity, row.decision or {}) for row in rows}


def _outcome(severity: str, decision: dict[str, Any]) -> _Outcome:
    steps = decision.get("steps") or []
    paged = tuple(name for step in steps for name in step.get("engineers", ()))
    return _Outcome(str(severity), decision.get("system"), paged)


def _print_difference(today: dict[str, _Outcome], then: dict[str, _Outcome]) -> None:
    """One line per alert whose outcome changed, or `difference: none`."""
    lines = []
    for key in sorted(today.keys() | then.keys()):
        now_, was = today.get(key), then.get(key)
        if now_ == was:
            continue
        old = was.describe() if was else "not stored from this event"
        new = now_.describe() if now_ else "no longer parsed from it"
        lines.append(f"  {key}: then {old}; today {new}")
    if not lines:
        print("difference from what happened: none")
        return
    print("difference from what happened:")
    for line in lines:
        print(line)


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
        alerts = _parse_stored(raw, event_id)
        if alerts is None:
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


async def page_test(
    settings: Settings, engineer: str, channel: str | None, *, wait_s: float = 0.0
) -> int:
    """Send a harmless test page to an engineer now, on one channel or all of theirs; print
    the exact text, where it went and, from a real provider, its delivery state as it arrives
    (polled for up to `wait_s` seconds)."""
    clock = SystemClock()
    holder = RulesHolder(settings.rules_dir, clock=clock)
    person = holder.rules.engineers.get(engineer)
    if person is None:
        hint = difflib.get_close_matches(engineer, list(holder.rules.engineers), n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        print(f"no engineer {engineer!r} in {settings.rules_dir}{suffix}", file=sys.stderr)
        return 2
    wanted = [Channel(channel)] if channel else channels_for(person, ())
    checks = contact_checks(engineer, person, wanted)
    if not checks:
        print(f"{engineer} has no contact for {channel or 'any channel'}", file=sys.stderr)
        return 1
    db = Database(settings.database_url)
    channels = build_channels(settings)
    try:
        now = clock.now()
        ids = await db.transaction(lambda conn: enqueue(conn, checks, now=now))
        sender = Sender(
            db,
            channels,
            clock=clock,
            rules=holder,
            throttle=SmsThrottle.off(),
            reports=IncidentPageReports(),
        )
        await sender.run_once()
        results = await db.transaction(lambda conn: _page_results(conn, ids))
        for row in results:
            _print_sent(row, channels[row.channel])
        states = await _await_delivery(results, channels, wait_s)
        return 0 if all(state in _GOOD for state in states) else 1
    finally:
        for client in channels.values():
            await client.aclose()
        await db.dispose()


# States that mean the page reached the provider and, as far as it knows, the person.
_GOOD = frozenset({"sent", "delivered", "logged", "posted", "completed", "in-progress"})
_FINAL = frozenset(
    {"delivered", "undelivered", "failed", "completed", "busy", "no-answer", "canceled"}
)
_POLL_S = 1.0
_VIA = {"TwilioSms": "Twilio SMS", "TwilioVoice": "Twilio voice", "SlackChannel": "Slack"}


def _print_sent(row: Any, client: object) -> None:
    """What was sent on one channel, to whom and through what, then the exact text."""
    to = row.address if row.channel == "slack" else mask_phone(row.address)
    if isinstance(client, LogChannel):
        print(
            f"{row.channel}: no provider configured, nothing sent (shown here only) "
            f"for {to} ({row.provider_id})"
        )
    else:
        via = _VIA.get(type(client).__name__, type(client).__name__)
        print(
            f"{row.channel}: {row.status} to {to} via {via} ({row.provider_id or row.last_error})"
        )
    print(f"  text: {row.text}")


async def _await_delivery(results: list[Any], channels: dict[str, Any], wait_s: float) -> list[str]:
    """Poll each provider that can say how its message fares; print every state change."""
    states = {row.id: str(row.status) for row in results}
    pending = {
        row.id: row
        for row in results
        if row.provider_id and hasattr(channels[row.channel], "delivery_state")
    }
    deadline = time.monotonic() + wait_s
    while pending:
        for page_id, row in list(pending.items()):
            try:
                state = await channels[row.channel].delivery_state(row.provider_id)
            except ChannelError as exc:
                print(f"{row.channel}: cannot read the delivery state: {exc}")
                pending.pop(page_id)
                continue
            if state != states[page_id]:
                print(f"{row.channel}: {state} ({row.provider_id})")
                states[page_id] = state
            if state in _FINAL:
                pending.pop(page_id)
        if not pending or time.monotonic() + _POLL_S > deadline:
            break
        await asyncio.sleep(_POLL_S)
    for row in pending.values():
        print(f"{row.channel}: still {states[row.id]} after {wait_s:g}s ({row.provider_id})")
    return list(states.values())


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


def _parse_stored(raw: Any, event_id: int) -> list[ParsedAlert] | None:
    """The alerts today's parser reads from a stored raw event, or None (said on stderr)."""
    parse = parser_for(raw.source)
    if parse is None:
        print(f"raw event {event_id} is from an unknown source {raw.source!r}", file=sys.stderr)
        return None
    try:
        return parse(raw.body)
    except (ParseError, SchemaError) as exc:
        print(f"today's {raw.source} parser rejects it: {exc}", file=sys.stderr)
        return None
