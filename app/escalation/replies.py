"""Carry out an engineer's SMS reply: find who and which incident, act, and say what happened.

Pure of HTTP: takes the sender's number and text, runs inside the caller's transaction, and
returns the text to answer with (None = answer nothing).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.core.incident import ActionKind
from app.incidents import store
from app.incidents.actions import ActionContext, IncidentAction, perform
from app.incidents.transitions import Who
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
from app.store import engineer_states
from app.store.tables import Base

_pages = Base.metadata.tables["pages"]
# The SMS grammar's incident commands, as the actions they ask for.
_ACTIONS = {
    Command.ACK: ActionKind.ACK,
    Command.RESOLVE: ActionKind.RESOLVE,
    Command.ESCALATE: ActionKind.ESCALATE,
    Command.FORWARD: ActionKind.HANDOVER,
    Command.SNOOZE: ActionKind.SNOOZE,
    Command.MUTE: ActionKind.MUTE,
}


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
        count = engineer_states.count_bad_reply(conn, engineer, context.now)
        return exc.message if should_answer_unparseable(count) else None
    engineer_states.set_state(conn, engineer, context.now, bad_replies=0)
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
        engineer_states.set_state(conn, engineer, context.now, away_until=until)
        return confirmation(command, until=until)
    if command is Command.BACK:
        engineer_states.set_state(conn, engineer, context.now, away_until=None)
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
    command = reply.command
    if command is Command.FORWARD and reply.target not in context.rules.engineers:
        return refusal(Refusal.UNKNOWN_ENGINEER, target=reply.target, hint_id=incident_id)
    minutes = int((reply.duration.total_seconds() if reply.duration else 1800) // 60) or 1
    action = IncidentAction(
        _ACTIONS[command],
        incident_id,
        note=reply.note,
        minutes=minutes,
        to=reply.target or "",
        span=reply.duration,
    )
    outcome = perform(conn, action, Who(engineer, "sms"), _action_context(context))
    if outcome.refused:
        return _refusal_of(conn, incident_id)
    return confirmation(
        command, incident_id=incident_id, target=reply.target, duration=reply.duration
    )


def _all(conn: Connection, engineer: str, reply: InboundReply, context: ReplyContext) -> str | None:
    kind = ActionKind.ACK if reply.command is Command.ACK_ALL else ActionKind.RESOLVE
    who, action_context = Who(engineer, "sms"), _action_context(context)
    done = [
        incident_id
        for incident_id in store.open_paged_to(conn, engineer)
        if perform(conn, IncidentAction(kind, incident_id), who, action_context).changed
    ]
    return confirmation(reply.command, incident_ids=done)


def _action_context(context: ReplyContext) -> ActionContext:
    return ActionContext(context.rules, context.now, context.public_url)


def _check_paged(conn: Connection, engineer: str, incident_id: int) -> str | None:
    if not store.exists(conn, incident_id):
        return refusal(Refusal.NOT_FOUND, incident_id=incident_id)
    paged = conn.execute(
        select(_pages.c.id)
        .where(_pages.c.incident_id == incident_id, _pages.c.engineer == engineer)
        .limit(1)
    ).first()
    return None if paged else refusal(Refusal.NOT_PAGED, incident_id=incident_id)


def _refusal_of(conn: Connection, incident_id: int) -> str:
    incident = store.load(conn, incident_id)
    return refusal(Refusal.ALREADY_RESOLVED, incident_id=incident_id, by=incident.resolved_by)


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
        engineer_states.set_state(conn, engineer, context.now, sms_opted_out=True)
        _tell_lead(conn, engineer, context)
    elif keyword in ("START", "YES", "UNSTOP"):
        engineer_states.set_state(conn, engineer, context.now, sms_opted_out=False)


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
