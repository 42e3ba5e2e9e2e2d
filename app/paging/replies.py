"""SMS replies from engineers: the command grammar, and the short texts we answer with. Pure.

Accepted forms, any case and spacing: `<id><cmd> [args] [note]` (`42a`, `42 ACK on it`,
`42f bo`, `42s 90`, `42m 2h`) or `<cmd> <id> [args] [note]` (`ack 42`, `forward 42 bo`,
`snooze 42 15`); `away 3d`, `back`, `aa` and `rr` take no id. A command without an id means
the most recent page to that number (`incident_id=None`). Twilio's opt-out keywords, alone
in a message, become opt_out / opt_in / help.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.paging.text import segments
from app.paging.twiml import document, verb


class Command(StrEnum):
    """What an inbound reply asks for."""

    ACK = "ack"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    FORWARD = "forward"
    SNOOZE = "snooze"
    MUTE = "mute"
    AWAY = "away"
    BACK = "back"
    ACK_ALL = "ack_all"
    RESOLVE_ALL = "resolve_all"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


@dataclass(frozen=True, slots=True)
class InboundReply:
    """One parsed SMS reply; `incident_id` None means "the most recent page to this number"."""

    command: Command
    incident_id: int | None = None
    target: str | None = None  # forward: the engineer id, lower-cased
    duration: timedelta | None = None  # snooze, mute, away
    note: str | None = None


class ReplyError(ValueError):
    """A reply we cannot parse; `message` is the hint to text back."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


DEFAULT_SNOOZE = timedelta(minutes=30)
# Far beyond any sensible snooze or absence, and small enough that timedelta cannot overflow.
MAX_DURATION = timedelta(days=365)
_TOO_LONG = "The duration must be at most 365d."
# A number that keeps sending nonsense is likely an auto-responder: answering it would loop.
MAX_UNPARSEABLE_IN_A_ROW = 5

_ALIASES = {
    **dict.fromkeys(("a", "ack", "acknowledge"), Command.ACK),
    **dict.fromkeys(("r", "res", "resolve"), Command.RESOLVE),
    **dict.fromkeys(("e", "esc", "escalate"), Command.ESCALATE),
    **dict.fromkeys(("f", "fwd", "forward"), Command.FORWARD),
    **dict.fromkeys(("s", "snooze"), Command.SNOOZE),
    **dict.fromkeys(("m", "mute"), Command.MUTE),
    "away": Command.AWAY,
    "back": Command.BACK,
    "aa": Command.ACK_ALL,
    "rr": Command.RESOLVE_ALL,
}
_KEYWORDS = {
    **dict.fromkeys(("stop", "stopall", "unsubscribe", "cancel", "end", "quit"), Command.OPT_OUT),
    **dict.fromkeys(("start", "yes", "unstop"), Command.OPT_IN),
    **dict.fromkeys(("help", "info"), Command.HELP),
}
_PER_INCIDENT = frozenset(
    {Command.ACK, Command.RESOLVE, Command.ESCALATE, Command.FORWARD, Command.SNOOZE, Command.MUTE}
)
# Short aliases used without an id must stand alone: "a bit late tonight" is not an ack.
_SHORT = frozenset({"a", "r", "e", "f", "s", "m"})

_PUNCT = "[.!,:;]*"
_REST = r"(?: (?P<rest>.*))?"
_ID_FIRST = re.compile(rf"#?(?P<id>[0-9]{{1,18}}) ?(?P<cmd>[a-z]+){_PUNCT}{_REST}", re.I)
_CMD_FIRST = re.compile(rf"(?P<cmd>[a-z]+) ?#?(?P<id>[0-9]{{1,18}}){_PUNCT}{_REST}", re.I)
_CMD_ONLY = re.compile(rf"(?P<cmd>[a-z]+){_PUNCT}{_REST}", re.I)
_DURATION = re.compile(r"(?:[0-9]{1,6}(?:s|m|min|h|d))+")
_DURATION_PART = re.compile(r"([0-9]+)(s|min|m|h|d)")
_UNIT = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days"}
_ENGINEER = re.compile(r"@?([a-z0-9][a-z0-9_.-]*)")


def parse_reply(body: str, *, hint_id: int = 42) -> InboundReply:
    """Parse an SMS body; raise ReplyError with a hint (using `hint_id` as the example id)."""
    # NFKC folds full-width digits and letters some phone keyboards produce.
    text = " ".join(unicodedata.normalize("NFKC", body).split())
    keyword = _KEYWORDS.get(text.rstrip(".!").lower())
    if keyword is not None:
        return InboundReply(command=keyword)
    for pattern in (_ID_FIRST, _CMD_FIRST, _CMD_ONLY):
        match = pattern.fullmatch(text)
        if match is not None:
            return _build(match, hint_id=hint_id)
    raise ReplyError(_unknown_hint(hint_id))


def _build(match: re.Match[str], *, hint_id: int) -> InboundReply:
    raw_id = match.groupdict().get("id")
    incident_id = int(raw_id) if raw_id else None
    word = match.group("cmd").lower()
    command = _ALIASES.get(word)
    if command is None:
        raise ReplyError(_unknown_hint(incident_id or hint_id))
    if incident_id is not None and command not in _PER_INCIDENT:
        raise ReplyError(_no_id_hint(command, incident_id))
    rest = match.group("rest")
    args = rest.split(" ") if rest else []
    reply = _arguments(command, incident_id, args, example=incident_id or hint_id)
    if incident_id is None and word in _SHORT and reply.note:
        raise ReplyError(_unknown_hint(hint_id))
    return reply


def _arguments(
    command: Command, incident_id: int | None, args: list[str], *, example: int
) -> InboundReply:
    """Read the command's own arguments off `args`; what is left is the note."""
    target: str | None = None
    duration: timedelta | None = None
    if command is Command.FORWARD:
        target = _engineer(args.pop(0) if args else "", example)
    elif command is Command.SNOOZE:
        duration = _snooze(args)
    elif command in (Command.MUTE, Command.AWAY):
        duration = _required_duration(command, args.pop(0) if args else "", example)
    note = _note(args)
    return InboundReply(command, incident_id, target=target, duration=duration, note=note)


def _engineer(word: str, example: int) -> str:
    match = _ENGINEER.fullmatch(word.lower())
    if match is None:
        raise ReplyError(f"Forward to whom? Reply {example}f bo to forward #{example} to bo.")
    return match.group(1)


def _snooze(args: list[str]) -> timedelta:
    """Minutes as a bare number (`42s 90`) or a duration (`42s 2h`); 30 min when absent."""
    if args and args[0].isascii() and args[0].isdigit():
        duration = parse_duration(args.pop(0) + "m")
        if duration is None:  # more digits than the duration pattern allows
            raise ReplyError(_TOO_LONG)
        return duration
    if args and (duration := parse_duration(args[0])) is not None:
        args.pop(0)
        return duration
    return DEFAULT_SNOOZE


def _required_duration(command: Command, word: str, example: int) -> timedelta:
    duration = parse_duration(word)
    if duration is None:
        usage = "away 3d" if command is Command.AWAY else f"{example}m 2h"
        raise ReplyError(f"{command.value} needs a duration like 30m, 2h or 3d: try {usage}.")
    return duration


def parse_duration(word: str) -> timedelta | None:
    """`30s`, `5m`, `5min`, `1h`, `1d` or a sum like `1h30m`; None if `word` is not one.

    Raises ReplyError for a zero duration or one over MAX_DURATION.
    """
    word = word.lower()
    if _DURATION.fullmatch(word) is None:
        return None
    total = timedelta()
    for amount, unit in _DURATION_PART.findall(word):
        total = _bounded(total + timedelta(**{_UNIT[unit]: int(amount)}), check_zero=False)
    return _bounded(total)


def _bounded(duration: timedelta, *, check_zero: bool = True) -> timedelta:
    # Checked after every part of a sum, so `999999d` repeated cannot overflow timedelta.
    if check_zero and duration <= timedelta():
        raise ReplyError("The duration must be more than zero, e.g. 30m.")
    if duration > MAX_DURATION:
        raise ReplyError(_TOO_LONG)
    return duration


def _note(args: list[str]) -> str | None:
    note = " ".join(args).strip(" -:,;")
    return note or None


def _unknown_hint(example: int) -> str:
    return (
        f"Unknown command, try {example}a (ack), {example}r (resolve), "
        f"{example}e (escalate), {example}s 30 (snooze) or HELP."
    )


def _no_id_hint(command: Command, incident_id: int) -> str:
    usage = {Command.AWAY: "away 3d", Command.BACK: "back", Command.ACK_ALL: "aa"}
    example = usage.get(command, "rr")
    return f"{example.split()[0]} takes no incident number: try {example} (or {incident_id}a)."


def should_answer_unparseable(count: int) -> bool:
    """Whether to answer the `count`-th unparseable reply in a row from one number (1-based).

    The first MAX_UNPARSEABLE_IN_A_ROW get a hint; after that the number gets an empty TwiML
    response until it sends something we understand (the caller then resets its count to 0).
    """
    return count <= MAX_UNPARSEABLE_IN_A_ROW


def twiml_message(text: str | None) -> str:
    """TwiML answering an SMS with `text`, or sending nothing when `text` is None."""
    return document() if text is None else document(verb("Message", text))


class Refusal(StrEnum):
    """Why a well-formed reply could not be carried out."""

    NOT_FOUND = "not_found"
    ALREADY_RESOLVED = "already_resolved"
    ALREADY_ACKED = "already_acked"
    NOT_PAGED = "not_paged"
    NO_RECENT_PAGE = "no_recent_page"
    UNKNOWN_ENGINEER = "unknown_engineer"
    UNKNOWN_NUMBER = "unknown_number"


HELP_TEXT = (
    "skillpager: reply 42a ack, 42r resolve, 42e escalate, 42f bo forward, 42s 30 snooze, "
    "42m 2h mute, aa ack all, rr resolve all, away 3d, back."
)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def confirmation(
    command: Command,
    *,
    incident_id: int | None = None,
    target: str | None = None,
    duration: timedelta | None = None,
    until: datetime | None = None,
    incident_ids: Sequence[int] = (),
) -> str | None:
    """One-segment SMS confirming `command` was done; None for opt-out/opt-in keywords.

    Twilio answers STOP/START itself (and after STOP it blocks our reply anyway). `until` is
    when an `away` ends, shown in its own timezone; `incident_ids` are those acted on by
    `aa`/`rr`.
    """
    if command in (Command.OPT_OUT, Command.OPT_IN):
        return None
    ref = f"#{incident_id}" if incident_id is not None else "Incident"
    for_ = f" for {format_duration(duration)}" if duration else ""
    away = f" until {format_until(until)}" if until else ""
    texts = {
        Command.ACK: f"{ref} acknowledged - paging stopped.",
        Command.RESOLVE: f"{ref} resolved.",
        Command.ESCALATE: f"{ref} escalated - paging the next engineer.",
        Command.FORWARD: f"{ref} forwarded to {target or 'them'}.",
        Command.SNOOZE: f"{ref} snoozed for {format_duration(duration or DEFAULT_SNOOZE)}.",
        Command.MUTE: f"{ref} muted{for_}.",
        Command.AWAY: f"You are away{away}. Reply back to return.",
        Command.BACK: "Welcome back - you get pages again.",
        Command.ACK_ALL: _all_text("Acknowledged", incident_ids),
        Command.RESOLVE_ALL: _all_text("Resolved", incident_ids),
        Command.HELP: HELP_TEXT,
    }
    return _one_segment(texts[command])


def refusal(
    reason: Refusal,
    *,
    incident_id: int | None = None,
    by: str | None = None,
    target: str | None = None,
    hint_id: int = 42,
) -> str:
    """One-segment SMS saying why a reply did nothing: `#42 was resolved by bo.`."""
    ref = f"#{incident_id}" if incident_id is not None else "That incident"
    by_part = f" by {by}" if by else ""
    texts = {
        Refusal.NOT_FOUND: f"No incident {ref}.",
        Refusal.ALREADY_RESOLVED: f"{ref} was resolved{by_part}.",
        Refusal.ALREADY_ACKED: f"{ref} was already acknowledged{by_part}.",
        Refusal.NOT_PAGED: f"{ref} was not paged to you.",
        Refusal.NO_RECENT_PAGE: "No recent page to this number; add the incident number, "
        f"e.g. {hint_id}a.",
        Refusal.UNKNOWN_ENGINEER: f"No engineer {target or 'by that id'}; try {hint_id}f bo.",
        Refusal.UNKNOWN_NUMBER: "This number is not on the on-call team.",
    }
    return _one_segment(texts[reason])


def format_duration(duration: timedelta) -> str:
    """`30 min`, `2 h`, `1 h 30 min`, `3 d`, `45 s`: whole units, largest first."""
    seconds = int(duration.total_seconds())
    parts = []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}")
    return " ".join(parts) or "0 s"


def format_until(moment: datetime) -> str:
    """`Mon 2026-11-30 10:00 UTC`, in `moment`'s own timezone (naive counts as UTC)."""
    zone = moment.tzname() or "UTC"
    return f"{_WEEKDAYS[moment.weekday()]} {moment:%Y-%m-%d %H:%M} {zone}"


def _all_text(verb_: str, incident_ids: Sequence[int]) -> str:
    if not incident_ids:
        return "No open incidents are paged to you."
    noun = "incident" if len(incident_ids) == 1 else "incidents"
    listed = ", ".join(f"#{number}" for number in incident_ids)
    return f"{verb_} {len(incident_ids)} {noun}: {listed}."


def _one_segment(text: str) -> str:
    """Cut `text` to one SMS segment (160 GSM-7 or 70 UCS-2), marking the cut with `...`."""
    if segments(text) == 1:
        return text
    keep = min(len(text), 160)  # no single segment holds more
    while keep > 0 and segments(text[:keep].rstrip(" ,") + "...") > 1:
        keep -= 1
    return text[:keep].rstrip(" ,") + "..."
