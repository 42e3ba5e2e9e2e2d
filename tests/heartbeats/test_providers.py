"""A paging provider that is misconfigured (Twilio 20003) or keeps failing (5xx for 5 minutes)
raises an incident for the lead, who gets it on the channel that still works (Slack); it
resolves once a page goes out on the failing channel again."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from app.clock import FrozenClock
from tests.fakes.slack_server import SlackFake
from tests.fakes.twilio_server import TwilioFake
from tests.heartbeats.support import RULES, cycle_at, incidents
from tests.support.app import RunningApp, post_generic, running_app
from tests.support.providers import provider_settings

ANNA_DM = SlackFake.dm_channel("U01ANNA")


@pytest.fixture
async def app(
    database_url: str, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    twilio_fake.clock = slack_fake.clock = clock
    settings = provider_settings(
        database_url,
        twilio_fake,
        slack_fake,
        rules_dir=RULES,
        # A messaging service sends SMS but cannot call: voice pages go to the log channel.
        twilio_from="MG" + "0" * 32,
    )
    async with running_app(settings, clock) as running:
        yield running


async def fire(app: RunningApp, service: str) -> None:
    body = {
        "summary": f"{service} down",
        "severity": "critical",
        "dedup_key": service,
        "labels": {"service": service},
    }
    await post_generic(app, body)
    await app.services.escalation.settle()


async def provider_incidents(app: RunningApp) -> list[dict[str, Any]]:
    found = await incidents(app)
    return [item for item in found if str(item["summary"]).startswith("SMS provider")]


async def test_sms_config_error_reaches_the_lead_by_slack_and_resolves(
    app: RunningApp, clock: FrozenClock, twilio_fake: TwilioFake, slack_fake: SlackFake
) -> None:
    twilio_fake.fail_with_code(20003, times=None)
    await fire(app, "db")  # bo's SMS fails: Twilio rejects our credentials
    await cycle_at(app, clock, timedelta(seconds=1))
    [raised] = await provider_incidents(app)
    assert raised["summary"].startswith("SMS provider failing: 20003")
    assert raised["unrouted"] is True
    assert raised["state"] == "triggered"
    to_anna = [m.text for m in slack_fake.messages if m.channel == ANNA_DM]
    assert any("SMS provider failing" in text for text in to_anna), to_anna
    await cycle_at(app, clock, timedelta(seconds=2))
    assert len(await provider_incidents(app)) == 1  # raised once

    twilio_fake.clear_faults()
    clock.advance(timedelta(minutes=1))
    await fire(app, "cache")  # bo's next SMS goes out: the provider works again
    await cycle_at(app, clock, timedelta(minutes=1, seconds=1))
    [resolved] = await provider_incidents(app)
    assert resolved["state"] == "resolved"


async def test_sms_5xx_for_five_minutes_raises(
    app: RunningApp, clock: FrozenClock, twilio_fake: TwilioFake
) -> None:
    twilio_fake.fail_with_status(500, times=None)
    await fire(app, "db")
    for seconds in range(30, 270, 30):  # retries and the ladder keep hitting 500s for 4.5 min
        await cycle_at(app, clock, timedelta(seconds=seconds))
    assert await provider_incidents(app) == []
    for seconds in range(270, 420, 30):
        await cycle_at(app, clock, timedelta(seconds=seconds))
    [raised] = await provider_incidents(app)
    assert raised["summary"].startswith("SMS provider failing for 5 minutes: 500")
