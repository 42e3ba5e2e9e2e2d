"""Fixtures for channel tests: fake Twilio and Slack servers on 127.0.0.1, and channels on them."""

from collections.abc import AsyncIterator

import pytest

from app.paging.slack import SlackChannel
from app.paging.sms_twilio import TwilioSms
from tests.fakes.slack_server import BOT_TOKEN, SlackFake
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.paging.factories import FROM_NUMBER, PUBLIC_URL


@pytest.fixture
async def sms(twilio_fake: TwilioFake) -> AsyncIterator[TwilioSms]:
    """The SMS channel pointed at the fake, sending from a number, short timeout."""
    channel = TwilioSms(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_=FROM_NUMBER,
        public_url=PUBLIC_URL,
        api_url=twilio_fake.url,
        timeout=0.5,
    )
    yield channel
    await channel.aclose()


@pytest.fixture
async def slack(slack_fake: SlackFake) -> AsyncIterator[SlackChannel]:
    """The Slack channel pointed at the fake, short timeout."""
    channel = SlackChannel(bot_token=BOT_TOKEN, api_url=slack_fake.url, timeout=0.5)
    yield channel
    await channel.aclose()
