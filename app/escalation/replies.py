"""Carry out an engineer's SMS reply: find who and which incident, act, and say what happened.

Pure of HTTP: takes the sender's number and text, runs inside the caller's transaction, and
returns the text to answer with (None = answer nothing).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.escalation import service
from app.escalation.mute import mute
from app.escalation.service import Actor, Outcome
from app.paging.base import PageKind
from app.paging.outbox import enqueue
from app.paging.replies import (
    Command,
    InboundReply,
    Refusal,
    ReplyError,
    confirmation,
    parse_reply,
    refusal,
    should_answer_unparseable,
)
from app.paging.requests import direct_request
from app.routing.rules import Rules
from app.store.tables import Base
from app.store.upsert import insert_ignore

_pages = Base.metadata.tables["pages"]
_incidents = Base.metadata.tables["incidents"]
_states = Base.metadata.tables["engineer_states"]
_OPEN = ("triggered", "acknowledged", "snoozed")


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """The rules, time and public URL a reply is handled with."""

    rules: Rules
    now: datetime
    public_url: str


def engineer_by_phone(rules: Rules, phone: str) -> str | None:
    """The engineer whose phone number this is."""
    return next((eid for eid, e in rules.engineers.items() if e.phone == phone), None)


def handle_sms(
    conn: Connection, *, engineer: str, body: str, opt_out: str | None, context: ReplyContext
) -> str | None:
    """Act on one SMS reply from `engineer`; the answer text, or None for an empty reply."""
    if opt_out:
        _opt_keyword(conn, engineer, opt_out.upper(), context)
        return None  # Twilio answers these keywords itself
    try:
        reply = parse_reply(body, hint_id=_latest_incident(conn, engineer) or 42)
    except ReplyError as exc:
        count = _count_bad_reply(conn, engineer, context.now)
        return exc.message if should_answer_unparseable(count) else None
    _set_state(conn, engineer, context.now, bad_replies=0)
    if reply.command in (Command.OPT_OUT, Command.OPT_IN, Command.HELP):
        keyword = {Command.OPT_OUT: "STOP", Command.OPT_IN: "START"}.get(reply.command, "HELP")
        _opt_keyword(conn, engineer, keyword, context)
        return None
    return _dispatch(conn, engineer, reply, context)


def _dispatch(
    conn: Connection, engineer: str, reply: InboundReply, context: ReplyContext
) -> str | None:
    command = reply.command
    if command is Command.AWAY:
        until = context.now + (reply.duration or timedelta(0))
        _set_state(conn, engineer, context.now, away_until=until)
        return confirmation(command, until=until)
    if command is Command.BACK:
        _set_state(conn, engineer, context.now, away_until=None)
        return confirmation(command)
    if command in (Command.ACK_ALL, Command.RESOLVE_ALL):
        return _all(conn, engineer, reply, context)
    incident_id = reply.incident_id or _latest_incident(conn, engineer)
    if incident_id is None:
        return refusal(Refusal.NO_RECENT_PAGE)
    problem = _check_paged(conn, engineer, incident_id)
    if problem is not None:
        return problem
    return _act(conn, engineer, incident_id, reply, context)


def _act(
    conn: Connection, engineer: str, incident_id: int, reply: InboundReply, context: ReplyContext
) -> str | None:
    actor = Actor(engineer, "sms")
    command, note, now = reply.command, reply.note, context.now
    outcome: Outcome
    if command is Command.ACK:
        outcome = service.acknowledge(
            conn, incident_id, actor=actor, rules=context.rules, now=now, note=note
        )
    elif command is Command.RESOLVE:
        outcome = service.resolve(
            conn,
            incident_id,
            actor=actor,
            rules=context.rules,
            now=now,
            public_url=context.public_url,
            note=note,
        )
    elif command is Command.ESCALATE:
        outcome = service.escalate(conn, incident_id, actor=actor, now=now, note=note)
    elif command is Command.FORWARD:
        if reply.target not in context.rules.engineers:
            return refusal(Refusal.UNKNOWN_ENGINEER, target=reply.target, hint_id=incident_id)
        outcome = service.hand_over(
            conn,
            incident_id,
            actor=actor,
            to=reply.target or "",
            rules=context.rules,
            now=now,
            public_url=context.public_url,
            note=note,
        )
    elif command is Command.SNOOZE:
        minutes = int((reply.duration.total_seconds() if reply.duration else 1800) // 60) or 1
        outcome = service.snooze(
            conn, incident_id, actor=actor, minutes=minutes, now=now, note=note
        )
    else:  # Command.MUTE
        outcome = mute(
            conn, incident_id, actor=actor, duration=reply.duration, rules=context.rules, now=now
        )
    if outcome.refused:
        return _refusal_of(conn, incident_id)
    return confirmation(
        command, incident_id=incident_id, target=reply.target, duration=reply.duration
    )


def _all(conn: Connection, engineer: str, reply: InboundReply, context: ReplyContext) -> str | None:
    ids = (
        conn.execute(
            select(_incidents.c.id)
            .where(
                _incidents.c.state.in_(_OPEN),
                _incidents.c.id.in_(
                    select(_pages.c.incident_id).where(_pages.c.engineer == engineer)
                ),
            )
            .order_by(_incidents.c.id)
        )
        .scalars()
        .all()
    )
    actor = Actor(engineer, "sms")
    done = []
    for incident_id in ids:
        if reply.command is Command.ACK_ALL:
            outcome = service.acknowledge(
                conn, incident_id, actor=actor, rules=context.rules, now=context.now
            )
        else:
            outcome = service.resolve(
                conn,
                incident_id,
                actor=actor,
                rules=context.rules,
                now=context.now,
                public_url=context.public_url,
            )
        if outcome.changed:
            done.append(incident_id)
    return confirmation(reply.command, incident_ids=done)


def _check_paged(conn: Connection, engineer: str, incident_id: int) -> str | None:
    exists = conn.execute(select(_incidents.c.id).where(_incidents.c.id == incident_id)).first()
    if exists is None:
        return refusal(Refusal.NOT_FOUND, incident_id=incident_id)
    paged = conn.execute(
        select(_pages.c.id)
        .where(_pages.c.incident_id == incident_id, _pages.c.engineer == engineer)
        .limit(1)
    ).first()
    return None if paged else refusal(Refusal.NOT_PAGED, incident_id=incident_id)


def _refusal_of(conn: Connection, incident_id: int) -> str:
    row: Any = conn.execute(select(_incidents).where(_incidents.c.id == incident_id)).one()
    return refusal(Refusal.ALREADY_RESOLVED, incident_id=incident_id, by=row.resolved_by)


def _latest_incident(conn: Connection, engineer: str) -> int | None:
    """The incident of the most recent page to this engineer's phone."""
    found = conn.execute(
        select(_pages.c.incident_id)
        .where(
            _pages.c.engineer == engineer,
            _pages.c.channel.in_(("sms", "voice")),
            _pages.c.incident_id.is_not(None),
        )
        .order_by(_pages.c.id.desc())
        .limit(1)
    ).scalar()
    return int(found) if found is not None else None


def _opt_keyword(conn: Connection, engineer: str, keyword: str, context: ReplyContext) -> None:
    """STOP turns the engineer's SMS off and tells the lead; START turns it on again."""
    if keyword in ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"):
        _set_state(conn, engineer, context.now, sms_opted_out=True)
        _tell_lead(conn, engineer, context)
    elif keyword in ("START", "YES", "UNSTOP"):
        _set_state(conn, engineer, context.now, sms_opted_out=False)


def _tell_lead(conn: Connection, engineer: str, context: ReplyContext) -> None:
    lead = context.rules.lead
    contact = context.rules.engineers[lead]
    channel, address = ("slack", contact.slack) if contact.slack else ("sms", contact.phone)
    if address is None or (lead == engineer and channel == "sms"):
        return
    text = f"skillpager: {engineer} replied STOP; SMS pages to them are off until they send START."
    row = direct_request(
        lead,
        channel,
        address,
        kind=PageKind.NOTICE,
        text=text,
        title="SMS opt-out",
    )
    enqueue(conn, [row], now=context.now)


def _count_bad_reply(conn: Connection, engineer: str, now: datetime) -> int:
    current = conn.execute(
        select(_states.c.bad_replies).where(_states.c.engineer == engineer)
    ).scalar()
    count = (current or 0) + 1
    _set_state(conn, engineer, now, bad_replies=count)
    return count


def _set_state(conn: Connection, engineer: str, now: datetime, **values: Any) -> None:
    insert_ignore(conn, _states, [{"engineer": engineer, "updated_at": now}])
    conn.execute(
        update(_states).where(_states.c.engineer == engineer).values(updated_at=now, **values)
    )
