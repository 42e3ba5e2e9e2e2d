"""Voice pages: the call TwiML, the key menu, and TwilioVoice against a fake Twilio."""

import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from app.core.incident import ActionKind
from app.paging.base import ChannelError, PageKind
from app.paging.voice import (
    MAX_SPOKEN_SUMMARY,
    CallOutcome,
    call_outcome,
    confirmation_twiml,
    gather_url,
    page_call_twiml,
    reprompt_twiml,
    say_and_hang_up,
    spoken_summary,
    voice_action,
)
from app.paging.voice_twilio import TwilioVoice
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.paging.factories import ANNA_PHONE, FROM_NUMBER, PUBLIC_URL, make_page

ACTION_URL = f"{PUBLIC_URL}/twilio/voice?incident=42&page=7"
MENU = "Press 4 to acknowledge, 5 to escalate, 6 to resolve."


def _parse(document: str) -> ET.Element:
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(document)  # noqa: S314 - our own output
    assert root.tag == "Response"
    return root


def _page_call(summary: str = "replica lag 47s") -> ET.Element:
    return _parse(
        page_call_twiml(public_url=PUBLIC_URL, incident_id=42, page_id=7, summary=summary)
    )


@pytest.fixture
async def voice(twilio_fake: TwilioFake) -> AsyncIterator[TwilioVoice]:
    """The voice channel pointed at the fake, short timeout."""
    channel = TwilioVoice(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_=FROM_NUMBER,
        public_url=PUBLIC_URL + "/",
        api_url=twilio_fake.url,
        timeout=0.5,
    )
    yield channel
    await channel.aclose()


def test_page_call_gathers_one_key_then_says_goodbye() -> None:
    root = _page_call()

    assert [child.tag for child in root] == ["Gather", "Say"]
    gather, goodbye = root
    assert gather.attrib == {
        "numDigits": "1",
        "action": ACTION_URL,
        "method": "POST",
        "timeout": "10",
    }
    assert [child.tag for child in gather] == ["Say"]
    assert gather[0].text == f"This is skillpager with incident 42. replica lag 47s. {MENU}"
    assert goodbye.text == "No input received. Goodbye."


def test_gather_url_carries_incident_and_page() -> None:
    url = gather_url(PUBLIC_URL + "/", incident_id=42, page_id=7)

    assert url == ACTION_URL
    assert parse_qs(urlsplit(url).query) == {"incident": ["42"], "page": ["7"]}


@pytest.mark.parametrize(
    "summary",
    [
        'disk < 5% & "orders" <db> it\'s full',
        "<speak><break time='10s'/>injected</speak>",
        "]]><Hangup/><Say>",
        "&amp; already escaped",
    ],
)
def test_summary_is_spoken_literally_never_as_markup(summary: str) -> None:
    root = _page_call(summary)

    say = root[0][0]
    assert list(say) == []  # no SSML or TwiML elements got in
    assert say.text == f"This is skillpager with incident 42. {summary}. {MENU}"


def test_summary_escaping_on_the_wire() -> None:
    document = page_call_twiml(
        public_url=PUBLIC_URL, incident_id=42, page_id=7, summary='a < b & "c"'
    )

    assert 'a &lt; b &amp; "c".' in document
    assert 'action="https://pager.example.com/twilio/voice?incident=42&amp;page=7"' in document


def test_control_characters_are_dropped_and_lines_joined() -> None:
    root = _page_call("line one\nline\x00 two\x07\tend")

    assert "line one line two end." in str(root[0][0].text)


def test_long_summary_is_cut_at_a_word() -> None:
    words = [f"word{number}" for number in range(200)]

    spoken = spoken_summary(" ".join(words))

    assert spoken.endswith(".")
    kept = spoken[:-1].split(" ")
    assert kept == words[: len(kept)]  # whole words only, in order
    assert len(spoken[:-1]) <= MAX_SPOKEN_SUMMARY
    assert len(" ".join(words[: len(kept) + 1])) > MAX_SPOKEN_SUMMARY  # as many as fit


@pytest.mark.parametrize(
    ("summary", "spoken"),
    [
        ("lag 47s see https://grafana.example/d/abc?x=1 now", "lag 47s see now."),
        ("all good!", "all good!"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_spoken_summary(summary: str, spoken: str) -> None:
    assert spoken_summary(summary) == spoken


def test_empty_summary_still_says_the_menu() -> None:
    root = _page_call("")

    assert root[0][0].text == f"This is skillpager with incident 42. {MENU}"


@pytest.mark.parametrize(
    ("digits", "action"),
    [
        ("4", ActionKind.ACK),
        ("5", ActionKind.ESCALATE),
        ("6", ActionKind.RESOLVE),
        (" 4 ", ActionKind.ACK),
        ("1", None),
        ("0", None),
        ("9", None),
        ("*", None),
        ("#", None),
        ("44", None),
        ("", None),
        (None, None),
    ],
)
def test_digit_mapping(digits: str | None, action: ActionKind | None) -> None:
    assert voice_action(digits) is action


def test_reprompt_offers_the_menu_again() -> None:
    root = _parse(reprompt_twiml(public_url=PUBLIC_URL, incident_id=42, page_id=7))

    assert [child.tag for child in root] == ["Gather", "Say"]
    assert root[0].attrib["action"] == ACTION_URL
    assert root[0].attrib["numDigits"] == "1"
    assert root[0][0].text == f"Sorry, that key does nothing. {MENU}"


@pytest.mark.parametrize(
    ("action", "text"),
    [
        (ActionKind.ACK, "Acknowledged. Goodbye."),
        (ActionKind.ESCALATE, "Escalated to the next engineer. Goodbye."),
        (ActionKind.RESOLVE, "Resolved. Goodbye."),
    ],
)
def test_confirmation_says_it_and_hangs_up(action: ActionKind, text: str) -> None:
    root = _parse(confirmation_twiml(action))

    assert [(child.tag, child.text) for child in root] == [("Say", text), ("Hangup", None)]


def test_say_and_hang_up_escapes() -> None:
    root = _parse(say_and_hang_up("Incident 42 was resolved by <bo> & co."))

    assert root[0].text == "Incident 42 was resolved by <bo> & co."


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("queued", CallOutcome.IN_PROGRESS),
        ("initiated", CallOutcome.IN_PROGRESS),
        ("ringing", CallOutcome.IN_PROGRESS),
        ("in-progress", CallOutcome.IN_PROGRESS),
        ("busy", CallOutcome.NOT_REACHED),
        ("no-answer", CallOutcome.NOT_REACHED),
        ("failed", CallOutcome.NOT_REACHED),
        ("canceled", CallOutcome.NOT_REACHED),
        ("Completed", CallOutcome.ENDED),
        ("something-new", CallOutcome.IN_PROGRESS),
    ],
)
def test_call_outcome_never_acknowledges(status: str, outcome: CallOutcome) -> None:
    assert call_outcome(status) is outcome


async def test_call_records_to_from_twiml_and_status_callback(
    voice: TwilioVoice, twilio_fake: TwilioFake
) -> None:
    page = make_page(channel="voice")

    delivery = await voice.send(page)

    request = twilio_fake.requests[0]
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    form = request.form
    assert form["To"] == ANNA_PHONE
    assert form["From"] == FROM_NUMBER
    assert form["StatusCallback"] == f"{PUBLIC_URL}/twilio/voice/status"
    assert form["StatusCallbackMethod"] == "POST"
    assert form["Timeout"] == "30"
    assert form["Twiml"] == page_call_twiml(
        public_url=PUBLIC_URL, incident_id=42, page_id=7, summary=page.summary
    )
    [call] = twilio_fake.calls
    assert (call.to, call.from_, call.twiml) == (ANNA_PHONE, FROM_NUMBER, form["Twiml"])
    assert call.status_callback == f"{PUBLIC_URL}/twilio/voice/status"
    assert delivery.provider_id == call.sid
    assert delivery.provider_id.startswith("CA")
    assert delivery.status == "queued"
    assert twilio_fake.messages == []


async def test_test_page_is_read_out_without_a_menu(
    voice: TwilioVoice, twilio_fake: TwilioFake
) -> None:
    page = make_page(kind=PageKind.TEST, incident_id=None, text="skillpager test page. Bye.")

    await voice.send(page)

    root = _parse(twilio_fake.calls[0].twiml or "")
    assert [(child.tag, child.text) for child in root] == [
        ("Say", "skillpager test page. Bye."),
        ("Hangup", None),
    ]


@pytest.mark.parametrize("code", [21211, 21614, 13224, 21217])
async def test_invalid_number_marks_the_contact(
    voice: TwilioVoice, twilio_fake: TwilioFake, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    twilio_fake.fail_with_code(code, to=ANNA_PHONE)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ChannelError) as caught:
        await voice.send(make_page(channel="voice"))

    assert caught.value.code == str(code)
    assert caught.value.contact_unhealthy is True
    assert caught.value.retryable is False
    assert ANNA_PHONE not in caught.value.message
    assert ANNA_PHONE not in caplog.text
    assert twilio_fake.calls == []


@pytest.mark.parametrize("code", [20003, 21210, 21215])
async def test_setup_errors_are_config_errors(
    voice: TwilioVoice, twilio_fake: TwilioFake, code: int
) -> None:
    twilio_fake.fail_with_code(code)

    with pytest.raises(ChannelError) as caught:
        await voice.send(make_page(channel="voice"))

    assert (caught.value.code, caught.value.config_error) == (str(code), True)
    assert caught.value.retryable is False


async def test_wrong_token_is_a_config_error(twilio_fake: TwilioFake) -> None:
    channel = TwilioVoice(
        account_sid=ACCOUNT_SID,
        auth_token="wrong-token-never-logged",
        from_=FROM_NUMBER,
        public_url=PUBLIC_URL,
        api_url=twilio_fake.url,
    )
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(make_page(channel="voice"))
    finally:
        await channel.aclose()

    assert (caught.value.code, caught.value.config_error) == ("20003", True)
    assert "wrong-token" not in repr(channel)


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retryable(
    voice: TwilioVoice, twilio_fake: TwilioFake, status: int
) -> None:
    twilio_fake.fail_with_status(status)

    with pytest.raises(ChannelError) as caught:
        await voice.send(make_page(channel="voice"))

    assert (caught.value.retryable, caught.value.code) == (True, str(status))
    assert caught.value.contact_unhealthy is False
    assert twilio_fake.calls == []
    delivery = await voice.send(make_page(channel="voice"))  # the retry goes through
    assert [call.sid for call in twilio_fake.calls] == [delivery.provider_id]


async def test_429_keeps_retry_after(voice: TwilioVoice, twilio_fake: TwilioFake) -> None:
    twilio_fake.fail_with_status(429, retry_after="12")

    with pytest.raises(ChannelError) as caught:
        await voice.send(make_page(channel="voice"))

    assert (caught.value.retryable, caught.value.retry_after) == (True, 12.0)


async def test_timeout_is_retryable(voice: TwilioVoice, twilio_fake: TwilioFake) -> None:
    twilio_fake.delay(2.0)  # the channel gives up after 0.5 s

    with pytest.raises(ChannelError) as caught:
        await voice.send(make_page(channel="voice"))

    assert (caught.value.retryable, caught.value.code) == (True, "timeout")


@pytest.mark.parametrize(
    ("from_", "public_url", "message"),
    [
        ("MG" + "a" * 32, PUBLIC_URL, "phone number"),
        (FROM_NUMBER, "", "PUBLIC_URL"),
    ],
)
def test_voice_needs_a_number_and_a_public_url(from_: str, public_url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TwilioVoice(
            account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_=from_, public_url=public_url
        )
