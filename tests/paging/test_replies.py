"""The SMS reply grammar, the texts we answer with, and the TwiML around them."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

import pytest

from app.paging.replies import (
    DEFAULT_SNOOZE,
    HELP_TEXT,
    MAX_UNPARSEABLE_IN_A_ROW,
    Command,
    InboundReply,
    Refusal,
    ReplyError,
    confirmation,
    format_duration,
    parse_duration,
    parse_reply,
    refusal,
    should_answer_unparseable,
    twiml_message,
)
from app.paging.text import gsm7_length, segments

ACK_42 = InboundReply(Command.ACK, 42)


class _ConfirmationFields(TypedDict, total=False):
    """The keyword arguments of `confirmation` a case sets."""

    incident_id: int
    target: str
    duration: timedelta
    until: datetime
    incident_ids: list[int]


class _RefusalFields(TypedDict, total=False):
    """The keyword arguments of `refusal` a case sets."""

    incident_id: int
    by: str
    target: str
    hint_id: int


@pytest.mark.parametrize(
    "body",
    [
        "42a",
        "42A",
        "42 a",
        "42 A",
        "42ack",
        "42 ACK",
        " 42ack",
        "42ack ",
        "42\ta",
        "42  \n a",
        "ACK 42",
        "ack 42",
        "Ack  42",
        "ack42",
        "a 42",
        "A42",
        "#42a",
        "ack #42",
        "42 acknowledge",
        "acknowledge 42",
        "42a.",
        "42a!",
        "ACK 42.",
        "\uff14\uff12\uff41",  # full-width "42a", as some phone keyboards send
    ],
)
def test_ack_spellings(body: str) -> None:
    assert parse_reply(body) == ACK_42


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("42r", InboundReply(Command.RESOLVE, 42)),
        ("42 res", InboundReply(Command.RESOLVE, 42)),
        ("resolve 42", InboundReply(Command.RESOLVE, 42)),
        ("42 RESOLVE", InboundReply(Command.RESOLVE, 42)),
        ("42e", InboundReply(Command.ESCALATE, 42)),
        ("42 esc", InboundReply(Command.ESCALATE, 42)),
        ("escalate 42", InboundReply(Command.ESCALATE, 42)),
        ("e 42", InboundReply(Command.ESCALATE, 42)),
        ("42f bo", InboundReply(Command.FORWARD, 42, target="bo")),
        ("42F BO", InboundReply(Command.FORWARD, 42, target="bo")),
        ("42 fwd @Bo", InboundReply(Command.FORWARD, 42, target="bo")),
        ("forward 42 bo", InboundReply(Command.FORWARD, 42, target="bo")),
        ("f 42 anna.berg", InboundReply(Command.FORWARD, 42, target="anna.berg")),
        ("42s", InboundReply(Command.SNOOZE, 42, duration=timedelta(minutes=30))),
        ("42 snooze", InboundReply(Command.SNOOZE, 42, duration=timedelta(minutes=30))),
        ("42s 90", InboundReply(Command.SNOOZE, 42, duration=timedelta(minutes=90))),
        ("snooze 42 15", InboundReply(Command.SNOOZE, 42, duration=timedelta(minutes=15))),
        ("s 42 15", InboundReply(Command.SNOOZE, 42, duration=timedelta(minutes=15))),
        ("42s 2h", InboundReply(Command.SNOOZE, 42, duration=timedelta(hours=2))),
        ("42m 2h", InboundReply(Command.MUTE, 42, duration=timedelta(hours=2))),
        ("42 mute 30s", InboundReply(Command.MUTE, 42, duration=timedelta(seconds=30))),
        ("mute 42 5m", InboundReply(Command.MUTE, 42, duration=timedelta(minutes=5))),
        ("42m 5min", InboundReply(Command.MUTE, 42, duration=timedelta(minutes=5))),
        ("42m 1d", InboundReply(Command.MUTE, 42, duration=timedelta(days=1))),
        ("42m 1H30M", InboundReply(Command.MUTE, 42, duration=timedelta(minutes=90))),
        ("away 3d", InboundReply(Command.AWAY, duration=timedelta(days=3))),
        ("AWAY 12h", InboundReply(Command.AWAY, duration=timedelta(hours=12))),
        ("back", InboundReply(Command.BACK)),
        ("Back.", InboundReply(Command.BACK)),
        ("aa", InboundReply(Command.ACK_ALL)),
        ("AA", InboundReply(Command.ACK_ALL)),
        ("rr", InboundReply(Command.RESOLVE_ALL)),
    ],
)
def test_every_command_and_alias(body: str, expected: InboundReply) -> None:
    assert parse_reply(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a", InboundReply(Command.ACK)),
        ("ACK", InboundReply(Command.ACK)),
        ("ack on it", InboundReply(Command.ACK, note="on it")),
        ("r", InboundReply(Command.RESOLVE)),
        ("resolve", InboundReply(Command.RESOLVE)),
        ("e", InboundReply(Command.ESCALATE)),
        ("escalate need db help", InboundReply(Command.ESCALATE, note="need db help")),
        ("f bo", InboundReply(Command.FORWARD, target="bo")),
        ("forward Bo", InboundReply(Command.FORWARD, target="bo")),
        ("s", InboundReply(Command.SNOOZE, duration=DEFAULT_SNOOZE)),
        ("snooze", InboundReply(Command.SNOOZE, duration=DEFAULT_SNOOZE)),
        ("m 2h", InboundReply(Command.MUTE, duration=timedelta(hours=2))),
    ],
)
def test_without_an_id_means_the_most_recent_page(body: str, expected: InboundReply) -> None:
    assert parse_reply(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("42a on it", InboundReply(Command.ACK, 42, note="on it")),
        ("42 ACK On It, 5 min", InboundReply(Command.ACK, 42, note="On It, 5 min")),
        ("ack 42 looking now", InboundReply(Command.ACK, 42, note="looking now")),
        ("42a - on it", InboundReply(Command.ACK, 42, note="on it")),
        ("42a, on it", InboundReply(Command.ACK, 42, note="on it")),
        ("42r fixed by restart", InboundReply(Command.RESOLVE, 42, note="fixed by restart")),
        ("42e need db help", InboundReply(Command.ESCALATE, 42, note="need db help")),
        (
            "42f bo knows payments",
            InboundReply(Command.FORWARD, 42, target="bo", note="knows payments"),
        ),
        (
            "42s 90 at lunch",
            InboundReply(Command.SNOOZE, 42, duration=timedelta(minutes=90), note="at lunch"),
        ),
        (
            "42s in a meeting",
            InboundReply(Command.SNOOZE, 42, duration=DEFAULT_SNOOZE, note="in a meeting"),
        ),
        (
            "snooze 42 15 lunch",
            InboundReply(Command.SNOOZE, 42, duration=timedelta(minutes=15), note="lunch"),
        ),
        (
            "42m 2h deploy",
            InboundReply(Command.MUTE, 42, duration=timedelta(hours=2), note="deploy"),
        ),
        ("away 3d skiing", InboundReply(Command.AWAY, duration=timedelta(days=3), note="skiing")),
        ("aa on it", InboundReply(Command.ACK_ALL, note="on it")),
    ],
)
def test_trailing_text_is_a_note_with_its_case_kept(body: str, expected: InboundReply) -> None:
    assert parse_reply(body) == expected


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("STOP", Command.OPT_OUT),
        ("stop", Command.OPT_OUT),
        (" Stop. ", Command.OPT_OUT),
        ("STOPALL", Command.OPT_OUT),
        ("UNSUBSCRIBE", Command.OPT_OUT),
        ("CANCEL", Command.OPT_OUT),
        ("END", Command.OPT_OUT),
        ("QUIT", Command.OPT_OUT),
        ("START", Command.OPT_IN),
        ("yes", Command.OPT_IN),
        ("UNSTOP", Command.OPT_IN),
        ("HELP", Command.HELP),
        ("help!", Command.HELP),
        ("INFO", Command.HELP),
    ],
)
def test_twilio_opt_out_keywords(body: str, command: Command) -> None:
    assert parse_reply(body) == InboundReply(command)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "42",
        "hello",
        "ok thanks",
        "42x",
        "42 ok",
        "a bit late tonight",  # a short alias without an id must stand alone
        "e coli in the water",
        "s what",
        "stop paging me",  # opt-out keywords count only alone
        "42a,on it",
        "42fbo",
        "1234567890123456789012a",  # no incident id is that long
        "🔥",
    ],
)
def test_unparseable_replies_get_the_hint(body: str) -> None:
    with pytest.raises(ReplyError) as caught:
        parse_reply(body)

    assert caught.value.message.startswith("Unknown command, try 42a (ack)")
    assert str(caught.value) == caught.value.message


def test_hint_uses_the_id_the_engineer_typed_or_the_callers_example() -> None:
    with pytest.raises(ReplyError, match=r"^Unknown command, try 17a \(ack\), 17r"):
        parse_reply("17x")
    with pytest.raises(ReplyError, match=r"^Unknown command, try 8a \(ack\)"):
        parse_reply("what", hint_id=8)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("42f", "Forward to whom? Reply 42f bo to forward #42 to bo."),
        ("forward 42 ???", "Forward to whom? Reply 42f bo to forward #42 to bo."),
        ("42m", "mute needs a duration like 30m, 2h or 3d: try 42m 2h."),
        ("42m soon", "mute needs a duration like 30m, 2h or 3d: try 42m 2h."),
        ("42m 2", "mute needs a duration like 30m, 2h or 3d: try 42m 2h."),
        ("away", "away needs a duration like 30m, 2h or 3d: try away 3d."),
        ("away 2w", "away needs a duration like 30m, 2h or 3d: try away 3d."),
        ("42s 0", "The duration must be more than zero, e.g. 30m."),
        ("42m 0h", "The duration must be more than zero, e.g. 30m."),
        ("away 366d", "The duration must be at most 365d."),
        ("42s 1234567", "The duration must be at most 365d."),
        ("42m " + "999999d" * 200, "The duration must be at most 365d."),
        ("42aa", "aa takes no incident number: try aa (or 42a)."),
        ("42rr", "rr takes no incident number: try rr (or 42a)."),
        ("42 away 3d", "away takes no incident number: try away 3d (or 42a)."),
        ("back 42", "back takes no incident number: try back (or 42a)."),
    ],
)
def test_invalid_forms_explain_themselves(body: str, message: str) -> None:
    with pytest.raises(ReplyError) as caught:
        parse_reply(body)

    assert caught.value.message == message


def test_a_bare_number_after_a_command_is_the_incident_not_minutes() -> None:
    # `s 90` snoozes incident 90; minutes need the id first (`snooze 42 90`).
    assert parse_reply("s 90") == InboundReply(Command.SNOOZE, 90, duration=DEFAULT_SNOOZE)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("5min", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("1d", timedelta(days=1)),
        ("1d12h", timedelta(hours=36)),
        ("2H", timedelta(hours=2)),
        ("5", None),
        ("h", None),
        ("1w", None),
        ("-5m", None),
        ("", None),
    ],
)
def test_parse_duration(word: str, expected: timedelta | None) -> None:
    assert parse_duration(word) == expected


@pytest.mark.parametrize(
    ("command", "fields", "text"),
    [
        (Command.ACK, {"incident_id": 42}, "#42 acknowledged - paging stopped."),
        (Command.RESOLVE, {"incident_id": 42}, "#42 resolved."),
        (Command.ESCALATE, {"incident_id": 42}, "#42 escalated - paging the next engineer."),
        (Command.FORWARD, {"incident_id": 42, "target": "bo"}, "#42 forwarded to bo."),
        (Command.SNOOZE, {"incident_id": 42}, "#42 snoozed for 30 min."),
        (
            Command.SNOOZE,
            {"incident_id": 7, "duration": timedelta(minutes=90)},
            "#7 snoozed for 1 h 30 min.",
        ),
        (Command.MUTE, {"incident_id": 42, "duration": timedelta(hours=2)}, "#42 muted for 2 h."),
        (
            Command.AWAY,
            {"until": datetime(2026, 11, 30, 10, 0, tzinfo=UTC)},
            "You are away until Mon 2026-11-30 10:00 UTC. Reply back to return.",
        ),
        (
            Command.AWAY,
            {"until": datetime(2026, 7, 3, 9, 30, tzinfo=ZoneInfo("Europe/Stockholm"))},
            "You are away until Fri 2026-07-03 09:30 CEST. Reply back to return.",
        ),
        (Command.BACK, {}, "Welcome back - you get pages again."),
        (
            Command.ACK_ALL,
            {"incident_ids": [42, 43, 44]},
            "Acknowledged 3 incidents: #42, #43, #44.",
        ),
        (Command.ACK_ALL, {"incident_ids": [42]}, "Acknowledged 1 incident: #42."),
        (Command.RESOLVE_ALL, {"incident_ids": [5, 6]}, "Resolved 2 incidents: #5, #6."),
        (Command.RESOLVE_ALL, {}, "No open incidents are paged to you."),
        (Command.ACK, {}, "Incident acknowledged - paging stopped."),
        (Command.HELP, {}, HELP_TEXT),
    ],
)
def test_confirmations(command: Command, fields: _ConfirmationFields, text: str) -> None:
    assert confirmation(command, **fields) == text


@pytest.mark.parametrize("command", [Command.OPT_OUT, Command.OPT_IN])
def test_opt_keywords_get_no_answer_of_ours(command: Command) -> None:
    assert confirmation(command) is None  # Twilio answers STOP/START itself


@pytest.mark.parametrize(
    ("reason", "fields", "text"),
    [
        (Refusal.ALREADY_RESOLVED, {"incident_id": 42, "by": "bo"}, "#42 was resolved by bo."),
        (Refusal.ALREADY_RESOLVED, {"incident_id": 42}, "#42 was resolved."),
        (
            Refusal.ALREADY_ACKED,
            {"incident_id": 42, "by": "Bo Lind"},
            "#42 was already acknowledged by Bo Lind.",
        ),
        (Refusal.NOT_FOUND, {"incident_id": 99}, "No incident #99."),
        (Refusal.NOT_PAGED, {"incident_id": 42}, "#42 was not paged to you."),
        (
            Refusal.NO_RECENT_PAGE,
            {"hint_id": 17},
            "No recent page to this number; add the incident number, e.g. 17a.",
        ),
        (Refusal.UNKNOWN_ENGINEER, {"target": "zed"}, "No engineer zed; try 42f bo."),
        (Refusal.UNKNOWN_NUMBER, {}, "This number is not on the on-call team."),
    ],
)
def test_refusals(reason: Refusal, fields: _RefusalFields, text: str) -> None:
    assert refusal(reason, **fields) == text


def test_every_answer_is_one_gsm7_segment() -> None:
    many = list(range(1000, 1100))
    texts = [
        confirmation(Command.ACK_ALL, incident_ids=many),
        confirmation(Command.FORWARD, incident_id=42, target="x" * 300),
        confirmation(Command.HELP),
        *(confirmation(command, incident_id=123456) for command in Command),
        *(refusal(reason, incident_id=123456, by="Bo Lind") for reason in Refusal),
    ]
    for text in texts:
        if text is None:
            continue
        assert gsm7_length(text) is not None, text
        assert len(text) <= 160, text
    cut = confirmation(Command.ACK_ALL, incident_ids=many)
    assert cut is not None
    assert cut.startswith("Acknowledged 100 incidents: #1000, #1001")
    assert cut.endswith("...")


def test_a_non_gsm_name_still_fits_one_ucs2_segment() -> None:
    text = refusal(Refusal.ALREADY_RESOLVED, incident_id=42, by="Łukasz Wiśniewski " * 5)

    assert segments(text) == 1
    assert text.startswith("#42 was resolved by Łukasz")
    assert text.endswith("...")


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=30), "30 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(minutes=90), "1 h 30 min"),
        (timedelta(days=3), "3 d"),
        (timedelta(days=1, hours=2), "1 d 2 h"),
    ],
)
def test_format_duration(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text


def test_twiml_message_escapes_the_body() -> None:
    document = twiml_message('#42 was resolved by <bo> & "anna"')

    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(document)  # noqa: S314 - our own output
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Message"]
    assert root[0].text == '#42 was resolved by <bo> & "anna"'
    assert "&lt;bo&gt; &amp;" in document


def test_twiml_without_text_is_an_empty_response() -> None:
    root = ET.fromstring(twiml_message(None))  # noqa: S314 - our own output

    assert root.tag == "Response"
    assert list(root) == []
    assert root.text is None


def test_twiml_drops_characters_xml_cannot_carry() -> None:
    root = ET.fromstring(twiml_message("a\x00b\x1bc\nd"))  # noqa: S314 - our own output

    assert root[0].text == "abc\nd"


@pytest.mark.parametrize(
    ("count", "answer"),
    [(1, True), (4, True), (MAX_UNPARSEABLE_IN_A_ROW, True), (6, False), (100, False)],
)
def test_stop_answering_after_five_unparseable_in_a_row(count: int, answer: bool) -> None:
    assert MAX_UNPARSEABLE_IN_A_ROW == 5
    assert should_answer_unparseable(count) is answer
