"""Helpers of the channel seam: phone masking, Retry-After, ChannelError."""

import pytest

from app.paging.base import (
    Channel,
    ChannelError,
    mask_phone,
    parse_retry_after,
    redact_phones,
)
from app.paging.log_channel import LogChannel
from app.paging.slack import SlackChannel
from app.paging.sms_twilio import TwilioSms


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+46701112233", "***2233"), ("0701 11 22 33", "***2233"), ("123", "***"), ("", "***")],
)
def test_mask_phone_keeps_last_four_digits(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


def test_redact_phones_masks_numbers_in_free_text() -> None:
    text = "The 'To' number +46701112233 is not valid; also 070-111 22 33, page 42"

    assert redact_phones(text) == "The 'To' number ***2233 is not valid; also ***2233, page 42"


@pytest.mark.parametrize(
    ("header", "seconds"), [("30", 30.0), (" 1.5 ", 1.5), ("-4", 0.0), ("soon", None), (None, None)]
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_channel_error_defaults_and_repr() -> None:
    error = ChannelError("boom", code="500", retryable=True)

    assert (error.retry_after, error.config_error, error.contact_unhealthy) == (None, False, False)
    assert str(error) == "boom"
    assert "retryable=True" in repr(error)


async def test_every_channel_satisfies_the_protocol() -> None:
    channels: list[Channel] = [
        LogChannel(),
        TwilioSms(account_sid="AC1", auth_token="t", from_="+15005550006", public_url=None),
        SlackChannel(bot_token="xoxb-t"),
    ]

    assert [channel.name for channel in channels] == ["log", "sms", "slack"]
    for channel in channels:
        await channel.aclose()
