"""TwilioSms through the real Twilio SDK against a fake Twilio on 127.0.0.1."""

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.paging.base import ChannelError
from app.paging.sms_twilio import TwilioSms
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.paging.factories import ANNA_PHONE, FROM_NUMBER, PUBLIC_URL, make_page


async def test_page_sends_one_sms_with_to_from_body_and_status_callback(
    sms: TwilioSms, twilio_fake: TwilioFake
) -> None:
    page = make_page()

    delivery = await sms.send(page)

    assert len(twilio_fake.requests) == 1
    request = twilio_fake.requests[0]
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": ANNA_PHONE,
        "From": FROM_NUMBER,
        "Body": page.text,
        "StatusCallback": f"{PUBLIC_URL}/twilio/status",
    }
    assert delivery.provider_id == twilio_fake.messages[0].sid
    assert delivery.provider_id.startswith("SM")
    assert delivery.status == "queued"


async def test_messaging_service_sender_goes_as_messaging_service_sid(
    twilio_fake: TwilioFake,
) -> None:
    channel = TwilioSms(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_="MG" + "a" * 32,
        public_url=None,
        api_url=twilio_fake.url,
    )
    try:
        delivery = await channel.send(make_page())
    finally:
        await channel.aclose()

    form = twilio_fake.requests[0].form
    assert form["MessagingServiceSid"] == "MG" + "a" * 32
    assert "From" not in form
    assert "StatusCallback" not in form  # no public URL, no callback
    assert delivery.status == "accepted"


async def test_http_500_is_retryable(sms: TwilioSms, twilio_fake: TwilioFake) -> None:
    twilio_fake.fail_with_status(500)

    with pytest.raises(ChannelError) as caught:
        await sms.send(make_page())

    assert caught.value.retryable is True
    assert caught.value.code == "500"
    assert caught.value.config_error is False
    assert caught.value.contact_unhealthy is False
    assert twilio_fake.messages == []


async def test_retry_after_500_succeeds(sms: TwilioSms, twilio_fake: TwilioFake) -> None:
    twilio_fake.fail_with_status(503)
    with pytest.raises(ChannelError):
        await sms.send(make_page())

    delivery = await sms.send(make_page())

    assert [message.sid for message in twilio_fake.messages] == [delivery.provider_id]


@pytest.mark.parametrize("code", [21211, 21614, 21610])
async def test_bad_or_unsubscribed_number_is_permanent_and_marks_contact(
    sms: TwilioSms, twilio_fake: TwilioFake, code: int
) -> None:
    twilio_fake.fail_with_code(code, to=ANNA_PHONE)

    with pytest.raises(ChannelError) as caught:
        await sms.send(make_page())

    assert caught.value.retryable is False
    assert caught.value.contact_unhealthy is True
    assert caught.value.config_error is False
    assert caught.value.code == str(code)


async def test_fault_for_one_number_leaves_others_alone(
    sms: TwilioSms, twilio_fake: TwilioFake
) -> None:
    twilio_fake.fail_with_code(21211, to="+15551230000", times=None)

    delivery = await sms.send(make_page())

    assert delivery.provider_id == twilio_fake.messages[0].sid


async def test_error_message_never_shows_the_full_number(
    sms: TwilioSms, twilio_fake: TwilioFake, caplog: pytest.LogCaptureFixture
) -> None:
    twilio_fake.fail_with_code(21211, to=ANNA_PHONE)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ChannelError) as caught:
        await sms.send(make_page())

    assert "***2233" in caught.value.message
    assert ANNA_PHONE not in caught.value.message
    assert ANNA_PHONE not in caplog.text
    assert "***2233" in caplog.text


async def test_auth_failure_is_a_config_error_and_token_never_logged(
    twilio_fake: TwilioFake, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_token = "wrong-token-do-not-log-me"
    channel = TwilioSms(
        account_sid=ACCOUNT_SID,
        auth_token=wrong_token,
        from_=FROM_NUMBER,
        public_url=PUBLIC_URL,
        api_url=twilio_fake.url,
    )
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(make_page())
    finally:
        await channel.aclose()

    assert caught.value.code == "20003"
    assert caught.value.config_error is True
    assert caught.value.retryable is False
    error_lines = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(error_lines) == 1
    assert "configuration error" in error_lines[0].getMessage()
    assert wrong_token not in caplog.text
    assert wrong_token not in repr(channel)


async def test_injected_20003_is_a_config_error(sms: TwilioSms, twilio_fake: TwilioFake) -> None:
    twilio_fake.fail_with_code(20003)

    with pytest.raises(ChannelError) as caught:
        await sms.send(make_page())

    assert (caught.value.code, caught.value.config_error) == ("20003", True)


async def test_429_with_retry_after_is_retryable(sms: TwilioSms, twilio_fake: TwilioFake) -> None:
    twilio_fake.fail_with_status(429, retry_after="17")

    with pytest.raises(ChannelError) as caught:
        await sms.send(make_page())

    assert caught.value.retryable is True
    assert caught.value.retry_after == 17.0


async def test_20429_code_is_retryable(sms: TwilioSms, twilio_fake: TwilioFake) -> None:
    twilio_fake.fail_with_code(20429)

    with pytest.raises(ChannelError) as caught:
        await sms.send(make_page())

    assert caught.value.retryable is True
    assert caught.value.code == "20429"
    assert caught.value.retry_after == 1.0


async def test_timeout_is_retryable(sms: TwilioSms, twilio_fake: TwilioFake) -> None:
    twilio_fake.delay(2.0)  # the channel gives up after 0.5 s

    with pytest.raises(ChannelError) as caught:
        await sms.send(make_page())

    assert caught.value.retryable is True
    assert caught.value.code == "timeout"


async def test_connection_refused_is_retryable(twilio_fake: TwilioFake) -> None:
    url = twilio_fake.url
    twilio_fake.stop()  # nothing listens on that port any more
    channel = TwilioSms(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_=FROM_NUMBER,
        public_url=PUBLIC_URL,
        api_url=url,
    )
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(make_page())
    finally:
        await channel.aclose()

    assert (caught.value.retryable, caught.value.code) == (True, "transport")


async def test_find_sent_finds_the_message_by_number_and_body(
    sms: TwilioSms, twilio_fake: TwilioFake
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    page = make_page()
    other = make_page(text="[WARN #43] something else")
    await sms.send(other)
    delivery = await sms.send(page)

    found = await sms.find_sent(ANNA_PHONE, since, page.text)

    assert found == delivery.provider_id
    listing = twilio_fake.requests[-1]
    assert listing.method == "GET"
    assert listing.query["To"] == ANNA_PHONE
    assert listing.query["DateSent>"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_find_sent_takes_the_earliest_of_identical_messages(sms: TwilioSms) -> None:
    # A page re-sent with the same text (a later round) must not lend its SID to the first.
    since = datetime.now(UTC) - timedelta(minutes=1)
    first = await sms.send(make_page())
    later = await sms.send(make_page())
    assert await sms.find_sent(ANNA_PHONE, since, make_page().text) == first.provider_id
    owned = {first.provider_id}
    assert await sms.find_sent(ANNA_PHONE, since, make_page().text, owned) == later.provider_id


async def test_find_sent_returns_none_when_nothing_matches(
    sms: TwilioSms, twilio_fake: TwilioFake
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    await sms.send(make_page())

    assert await sms.find_sent(ANNA_PHONE, since, "another body") is None
    assert await sms.find_sent("+15550001111", since, make_page().text) is None
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert await sms.find_sent(ANNA_PHONE, later, make_page().text) is None


async def test_find_sent_never_logs_the_number(
    sms: TwilioSms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await sms.find_sent(ANNA_PHONE, datetime.now(UTC), "body")

    assert "Messages.json" in caplog.text  # httpx did log the request …
    assert ANNA_PHONE.lstrip("+") not in caplog.text  # … with the number masked
    assert "***2233" in caplog.text


async def test_find_sent_sends_the_window_start_in_utc(
    sms: TwilioSms, twilio_fake: TwilioFake
) -> None:
    stockholm = timezone(timedelta(hours=2))
    since = datetime(2026, 3, 1, 12, 30, 5, tzinfo=stockholm)

    await sms.find_sent(ANNA_PHONE, since, "body")

    assert twilio_fake.requests[-1].query["DateSent>"] == "2026-03-01T10:30:05Z"
