"""A slow provider never gets the same page twice (issue 12.6).

Twilio and Slack fakes store each message at once but answer the create only much later (or
never), so our client times out with the message already at the provider. The sender must
settle such an ambiguous outcome by looking the message up (Twilio `messages.list`, Slack
`conversations.history`) instead of sending it again, as crash recovery does.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from app.clock import FrozenClock
from app.store.tables import Base
from tests.fakes.slack_server import SlackFake
from tests.fakes.twilio_server import TwilioFake
from tests.support.app import FIXTURES, RunningApp, advance, fire_critical, running_app
from tests.support.providers import provider_settings

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TIMEOUT_S = 0.5
# Alerts routed to different engineers (rules_channels): anna (the lead) and sam.
ALERTS = [("disk", {"alertname": "DiskFull"}), ("db-down", {"service": "db"})]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(
    sqlite_database: str, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    settings = provider_settings(
        sqlite_database,
        twilio_fake,
        slack_fake,
        rules_dir=FIXTURES / "rules_channels",
        provider_timeout_s=TIMEOUT_S,
    )
    async with running_app(settings, clock) as running:
        yield running


async def _rows(app: RunningApp, incident_id: int) -> dict[str, Any]:
    """The incident's page rows by channel, read from the store (the API hides provider ids)."""
    pages_table = Base.metadata.tables["pages"]
    query = select(pages_table).where(pages_table.c.incident_id == incident_id)
    async with app.services.engine.connect() as conn:
        return {row.channel: row for row in (await conn.execute(query)).all()}


def _posts(fake: TwilioFake | SlackFake, path: str) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith(path))


async def test_a_timed_out_send_is_found_at_the_provider_and_never_sent_again(
    app: RunningApp, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> None:
    twilio_fake.accept_slowly(None)  # every create stored, never answered
    slack_fake.post_slowly(60.0)
    incidents = [await fire_critical(app, key, labels) for key, labels in ALERTS]
    for _ in range(6):  # 30 s: long past every retry backoff
        await advance(app, clock, 5)
    assert len(twilio_fake.messages) == len(incidents)
    assert _posts(twilio_fake, "Messages.json") == len(incidents)
    assert len(slack_fake.messages) == 1  # anna has Slack too, sam only SMS
    assert _posts(slack_fake, "chat.postMessage") == 1
    by_sid = {m.sid: m for m in twilio_fake.messages}
    [dm] = slack_fake.messages
    for incident_id in incidents:
        found = await _rows(app, incident_id)
        assert {p.status for p in found.values()} == {"sent"}
        assert by_sid[found["sms"].provider_id].body.startswith(f"[CRIT #{incident_id}]")
    assert (await _rows(app, incidents[0]))["slack"].provider_id == f"{dm.channel}:{dm.ts}"


async def test_when_the_lookup_also_hangs_recovery_settles_the_page_later(
    app: RunningApp, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> None:
    twilio_fake.answer_late(None)  # creates and lists alike: nothing answers in time
    incident_id = await fire_critical(app, "db-down", {"service": "db"})
    # Open: neither retried blind nor called sent.
    assert (await _rows(app, incident_id))["sms"].status == "sending"
    await advance(app, clock, 5)
    assert len(twilio_fake.messages) == 1
    twilio_fake.clear_faults()  # Twilio answers again; the recovery pass looks it up
    for _ in range(3):
        await advance(app, clock, 35)
    sms = (await _rows(app, incident_id))["sms"]
    [message] = twilio_fake.messages
    assert (sms.status, sms.provider_id) == ("sent", message.sid)
    assert _posts(twilio_fake, "Messages.json") == 1


async def test_a_timed_out_call_is_found_at_twilio_and_never_placed_again(
    app: RunningApp, twilio_fake: TwilioFake, clock: FrozenClock
) -> None:
    twilio_fake.accept_slowly(None)
    incident_id = await fire_critical(app, "cache-down", {"service": "cache"})  # → vic, by a call
    for _ in range(6):
        await advance(app, clock, 5)
    [call] = twilio_fake.calls
    assert _posts(twilio_fake, "Calls.json") == 1
    rows = await _rows(app, incident_id)
    assert (rows["voice"].status, rows["voice"].provider_id) == ("sent", call.sid)
