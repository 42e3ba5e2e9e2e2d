"""A replayed provider callback is answered as before and changes nothing (issue 12.7).

Each request is signed for real (Slack's signing secret, Twilio's RequestValidator scheme)
and posted over HTTP; the replay is the same bytes with the same headers, as an attacker who
captured it would send them, inside Slack's 5-minute window.
"""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.paging.signatures import slack_signature, twilio_signature
from app.store.retention import prune
from app.store.tables import Base
from tests.fakes.slack_server import SlackFake
from tests.fakes.twilio_server import AUTH_TOKEN, TwilioFake
from tests.support.app import FIXTURES, RunningApp, fire_service, incident_detail, running_app
from tests.support.providers import SLACK_SIGNING_SECRET, provider_settings

_receipts = Base.metadata.tables["inbound_receipts"]
SAM = "+46709990000"  # rules_channels: pages for service db go to sam, by SMS


@pytest.fixture
def clock() -> FrozenClock:
    # Slack signatures are checked against this clock: keep it at the real time.
    return FrozenClock(datetime.fromtimestamp(int(time.time()), UTC))


@pytest.fixture
async def app(
    database_url: str, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    settings = provider_settings(
        database_url,
        twilio_fake,
        slack_fake,
        rules_dir=FIXTURES / "rules_channels",
        slack_signing_secret=SLACK_SIGNING_SECRET,
    )
    async with running_app(settings, clock) as running:
        yield running


def _slack_click(action: str, incident_id: int, now: datetime) -> tuple[bytes, dict[str, str]]:
    payload = {
        "type": "block_actions",
        "user": {"id": "U01ANNA", "name": "anna"},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "actions": [
            {"action_id": action, "value": str(incident_id), "action_ts": "1700000100.000200"}
        ],
        "container": {"type": "message", "channel_id": "DU01ANNA", "message_ts": "1700.0001"},
        "message": {"ts": "1700.0001", "blocks": []},
        "response_url": "http://127.0.0.1:9/unused",
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(now.timestamp()))
    return body, {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(SLACK_SIGNING_SECRET, stamp, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _twilio(url: str, form: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, form)}


async def _history(app: RunningApp, incident_id: int) -> tuple[int, int, str]:
    """Pages, timeline events and state of an incident: what a repeated action would change."""
    found = await incident_detail(app, incident_id)
    return len(found["pages"]), len(found["timeline"]), found["state"]


def _same(first: httpx.Response, second: httpx.Response) -> None:
    assert (second.status_code, second.text) == (first.status_code, first.text)
    assert second.headers.get("content-type") == first.headers.get("content-type")


async def test_a_replayed_slack_escalate_escalates_once(
    app: RunningApp, clock: FrozenClock
) -> None:
    incident_id = await fire_service(app, "web", "web-down", alertname="Web")  # unrouted → anna
    before = await _history(app, incident_id)
    body, headers = _slack_click("escalate", incident_id, clock.now())
    first = await app.client.post("/slack/actions", content=body, headers=headers)
    assert first.status_code == 200, first.text
    await app.services.escalation.settle()
    after_first = await _history(app, incident_id)
    assert after_first != before
    clock.advance(timedelta(minutes=4))  # still inside Slack's 5-minute window
    replay = await app.client.post("/slack/actions", content=body, headers=headers)
    await app.services.escalation.settle()
    _same(first, replay)
    assert await _history(app, incident_id) == after_first


async def test_two_copies_of_a_slack_click_at_once_act_once(
    app: RunningApp, clock: FrozenClock
) -> None:
    incident_id = await fire_service(app, "web", "web-down", alertname="Web")
    body, headers = _slack_click("escalate", incident_id, clock.now())
    answers = await asyncio.gather(
        *(app.client.post("/slack/actions", content=body, headers=headers) for _ in range(4))
    )
    await app.services.escalation.settle()
    for answer in answers[1:]:
        _same(answers[0], answer)
    escalations = [
        e for e in (await incident_detail(app, incident_id))["timeline"] if e["kind"] == "escalated"
    ]
    assert len(escalations) == 1, escalations


async def test_a_replayed_sms_reply_is_answered_as_before_and_acts_once(app: RunningApp) -> None:
    incident_id = await fire_service(app, "db", "db-down")  # → sam by SMS
    before = await _history(app, incident_id)
    url = "http://testserver/twilio/sms"
    form = {
        "From": SAM,
        "To": "+15550001111",
        "Body": f"{incident_id}e",
        "MessageSid": "SM" + "5" * 32,
    }
    first = await app.client.post("/twilio/sms", data=form, headers=_twilio(url, form))
    await app.services.escalation.settle()
    assert first.status_code == 200, first.text
    after_first = await _history(app, incident_id)
    assert after_first != before  # escalated: a timeline event, the next step paged
    replay = await app.client.post("/twilio/sms", data=form, headers=_twilio(url, form))
    await app.services.escalation.settle()
    _same(first, replay)
    assert await _history(app, incident_id) == after_first
    # A new message with the same words is no replay: it acts on its own.
    fresh = {**form, "MessageSid": "SM" + "6" * 32}
    await app.client.post("/twilio/sms", data=fresh, headers=_twilio(url, fresh))
    await app.services.escalation.settle()
    assert await _history(app, incident_id) != after_first


async def test_a_replayed_voice_key_is_answered_as_before_and_acts_once(
    app: RunningApp, twilio_fake: TwilioFake
) -> None:
    incident_id = await fire_service(app, "cache", "cache-down")  # → vic by SMS and a call
    [call] = twilio_fake.calls
    assert call.twiml is not None
    found = re.search(r'action="([^"]+)"', call.twiml)
    assert found is not None
    url = found.group(1).replace("&amp;", "&")
    path = url.removeprefix("http://testserver")
    form = {"CallSid": call.sid, "Digits": "5", "From": "+15550001111"}
    first = await app.client.post(path, data=form, headers=_twilio(url, form))
    await app.services.escalation.settle()
    assert first.status_code == 200
    after_first = await _history(app, incident_id)
    replay = await app.client.post(path, data=form, headers=_twilio(url, form))
    await app.services.escalation.settle()
    _same(first, replay)
    assert await _history(app, incident_id) == after_first


async def test_receipts_are_kept_past_the_window_then_pruned(
    app: RunningApp, clock: FrozenClock
) -> None:
    incident_id = await fire_service(app, "web", "web-down", alertname="Web")
    body, headers = _slack_click("ack", incident_id, clock.now())
    assert (
        await app.client.post("/slack/actions", content=body, headers=headers)
    ).status_code == 200
    db = app.services.db
    assert await prune(db, now=clock.now() + timedelta(hours=1), keep=timedelta(days=1)) == 0
    assert await _receipt_count(app) == 1
    await prune(db, now=clock.now() + timedelta(days=2), keep=timedelta(days=1))
    assert await _receipt_count(app) == 0


async def _receipt_count(app: RunningApp) -> Any:
    async with app.services.engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(_receipts))
