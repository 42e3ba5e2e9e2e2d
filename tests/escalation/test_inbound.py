"""Engineers act from where they are: SMS replies, voice keys and Slack buttons, over real HTTP
with real provider signatures; forged and replayed requests are refused."""

import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from app.clock import FrozenClock
from app.config import Settings
from app.paging.signatures import slack_signature, twilio_signature
from tests.fakes.slack_server import SlackFake
from tests.fakes.twilio_server import AUTH_TOKEN, TwilioFake
from tests.support.app import (
    FIXTURES,
    WEBHOOK_TOKEN,
    RunningApp,
    fire_service,
    incident_detail,
    post_generic,
    run_minutes,
    running_app,
)
from tests.support.providers import SLACK_SIGNING_SECRET, provider_settings

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
BO, CARL, ERIK, ANNA = "+46702223344", "+46703334455", "+46704445566", "+46701112233"


def _settings(database_url: str, rules: str, twilio: TwilioFake, slack: SlackFake) -> Settings:
    return provider_settings(
        database_url,
        twilio,
        slack,
        rules_dir=FIXTURES / rules,
        slack_signing_secret=SLACK_SIGNING_SECRET,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(
    sqlite_database: str, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    settings = _settings(sqlite_database, "rules_ladder", twilio_fake, slack_fake)
    async with running_app(settings, clock) as running:
        yield running


async def sms(app: RunningApp, phone: str, body: str, **extra: str) -> str:
    # Every SMS has its own sid (a repeated sid is a replay, answered without acting).
    sid = "SM" + secrets.token_hex(16)
    form = {"From": phone, "To": "+15550001111", "Body": body, "MessageSid": sid, **extra}
    signature = twilio_signature(AUTH_TOKEN, "http://testserver/twilio/sms", form)
    response = await app.client.post(
        "/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    await app.services.escalation.settle()
    found = re.search(r"<Message>(.*)</Message>", response.text)
    return found.group(1) if found else ""


def texts_to(twilio: TwilioFake, phone: str) -> list[str]:
    return [m.body for m in twilio.messages if m.to == phone]


async def test_sms_ack_stops_the_ladder_while_a_control_escalates(
    app: RunningApp, twilio_fake: TwilioFake, clock: FrozenClock
) -> None:
    acked = await fire_service(app, "db", "db-down")
    control = await fire_service(app, "cache", "cache-down")
    assert await sms(app, BO, f"{acked}a on it") == f"#{acked} acknowledged - paging stopped."
    await run_minutes(app, clock, 30)
    found = await incident_detail(app, acked)
    assert (found["state"], found["acknowledged_by"]) == ("acknowledged", "bo")
    event = next(e for e in found["timeline"] if e["kind"] == "acknowledged")
    assert (event["actor"], event["channel"], event["note"]) == ("bo", "sms", "on it")
    assert [p["engineer"] for p in found["pages"] if p["kind"] == "page"] == ["bo"]
    control_paged = [p["engineer"] for p in (await incident_detail(app, control))["pages"]]
    assert {"carl", "dana", "erik", "anna"} <= set(control_paged)
    # A second ack answers with the current state and adds no event.
    assert await sms(app, BO, f"ACK {acked}") == f"#{acked} acknowledged - paging stopped."
    kinds = [e["kind"] for e in (await incident_detail(app, acked))["timeline"]]
    assert kinds.count("acknowledged") == 1


async def test_reply_grammar_and_refusals(
    app: RunningApp, twilio_fake: TwilioFake, clock: FrozenClock
) -> None:
    incident_id = await fire_service(app, "db", "db-down")
    assert await sms(app, BO, "99a") == "No incident #99."
    assert await sms(app, CARL, f"{incident_id}a") == f"#{incident_id} was not paged to you."
    assert await sms(app, BO, "a") == f"#{incident_id} acknowledged - paging stopped."
    assert await sms(app, BO, f"{incident_id} E") == (
        f"#{incident_id} escalated - paging the next engineer."
    )
    assert "carl" in [p["engineer"] for p in (await incident_detail(app, incident_id))["pages"]]
    assert await sms(app, CARL, f"{incident_id}f erik") == f"#{incident_id} forwarded to erik."
    assert texts_to(twilio_fake, ERIK)
    assert (await sms(app, ERIK, f"{incident_id}f zed")).startswith("No engineer zed")
    assert await sms(app, ERIK, f"snooze {incident_id} 15") == f"#{incident_id} snoozed for 15 min."
    assert (await incident_detail(app, incident_id))["state"] == "snoozed"
    assert await sms(app, ERIK, f"{incident_id}r") == f"#{incident_id} resolved."
    assert await sms(app, BO, f"{incident_id}a") == f"#{incident_id} was resolved by erik."


async def test_ack_all_and_resolve_all(app: RunningApp) -> None:
    first = await fire_service(app, "db", "db-down")
    second = await fire_service(app, "cache", "cache-down")
    assert await sms(app, BO, "aa") == f"Acknowledged 2 incidents: #{first}, #{second}."
    states = {(await incident_detail(app, i))["state"] for i in (first, second)}
    assert states == {"acknowledged"}
    assert await sms(app, BO, "RR") == f"Resolved 2 incidents: #{first}, #{second}."


async def test_unknown_numbers_forged_signatures_and_noise(app: RunningApp) -> None:
    await fire_service(app, "db", "db-down")
    assert await sms(app, "+4670000000", "1a") == ""
    form = {"From": BO, "Body": "1a"}
    forged = await app.client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": "x"})
    assert forged.status_code == 403
    answers = [await sms(app, BO, "what is going on") for _ in range(6)]
    assert all(a.startswith("Unknown command") for a in answers[:5])
    assert answers[5] == ""  # after 5 unparseable replies in a row, stop answering


async def test_stop_turns_sms_off_and_tells_the_lead_start_turns_it_on(
    app: RunningApp, twilio_fake: TwilioFake, clock: FrozenClock
) -> None:
    await fire_service(app, "db", "db-down")
    assert await sms(app, BO, "STOP", OptOutType="STOP") == ""
    await app.services.escalation.cycle()
    assert any("bo replied STOP" in text for text in texts_to(twilio_fake, ANNA))
    second = await fire_service(app, "cache", "cache-down")
    assert "bo" not in [p["engineer"] for p in (await incident_detail(app, second))["pages"]]
    assert await sms(app, BO, "START", OptOutType="START") == ""
    await sms(app, BO, "rr")
    fourth = await fire_service(app, "db", "db-3")
    assert [p["engineer"] for p in (await incident_detail(app, fourth))["pages"]] == ["bo"]


async def test_away_routes_around_the_engineer_until_back(app: RunningApp) -> None:
    assert (
        await sms(app, BO, "away 3d")
        == "You are away until Sat 2026-11-28 10:00 UTC. Reply back to return."
    )
    while_away = await incident_detail(app, await fire_service(app, "db", "db-down"))
    assert while_away["decision"]["steps"][0]["engineers"] == ["carl"]
    reasons = {r["engineer"]: r["text"] for r in while_away["decision"]["reasons"]}
    assert reasons["bo"] == "away until 2026-11-28 10:00"
    await sms(app, CARL, "rr")
    assert await sms(app, BO, "back") == "Welcome back - you get pages again."
    after = await incident_detail(app, await fire_service(app, "db", "db-again"))
    assert after["decision"]["steps"][0]["engineers"] == ["bo"]


async def test_mute_silences_the_system_until_it_ends(
    app: RunningApp, twilio_fake: TwilioFake, clock: FrozenClock
) -> None:
    incident_id = await fire_service(app, "db", "db-down")
    assert await sms(app, BO, f"{incident_id}m 1h") == f"#{incident_id} muted for 1 h."
    await run_minutes(app, clock, 59)
    assert [
        p["engineer"]
        for p in (await incident_detail(app, incident_id))["pages"]
        if p["status"] != "cancelled"
    ] == ["bo"]
    await run_minutes(app, clock, 2)
    paged = [
        p["engineer"]
        for p in (await incident_detail(app, incident_id))["pages"]
        if p["status"] == "sent"
    ]
    assert paged == ["bo", "carl"]


async def test_voice_key_acknowledges(
    sqlite_database: str, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> None:
    settings = _settings(sqlite_database, "rules_channels", twilio_fake, slack_fake)
    async with running_app(settings, clock) as app:
        incident_id = await fire_service(app, "cache", "cache-down")
        [call] = twilio_fake.calls
        assert call.to == "+46708880000"
        assert call.twiml is not None
        action = re.search(r'action="([^"]+)"', call.twiml)
        assert action is not None
        url = action.group(1).replace("&amp;", "&")
        path_and_query = url.removeprefix("http://testserver")
        for digits, expected in (("9", "Press 4"), ("4", "Acknowledged")):
            form = {"CallSid": call.sid, "Digits": digits, "From": "+15550001111"}
            signature = twilio_signature(AUTH_TOKEN, url, form)
            answer = await app.client.post(
                path_and_query, data=form, headers={"X-Twilio-Signature": signature}
            )
            assert answer.status_code == 200
            assert expected.lower() in answer.text.lower()
        found = await incident_detail(app, incident_id)
        assert (found["state"], found["acknowledged_by"]) == ("acknowledged", "vic")


def slack_body(user: str, action: str, incident_id: int) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "name": "anna"},
        "actions": [{"action_id": action, "value": str(incident_id), "action_ts": "1"}],
        "container": {
            "type": "message",
            "channel_id": "DU01ANNA",
            "message_ts": "1700000000.000100",
        },
        "message": {"ts": "1700000000.000100", "blocks": []},
        "response_url": "http://127.0.0.1:9/unused",
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_slack_buttons_act_and_update_the_message(
    sqlite_database: str, twilio_fake: TwilioFake, slack_fake: SlackFake
) -> None:
    clock = FrozenClock(datetime.fromtimestamp(int(time.time()), UTC))
    settings = _settings(sqlite_database, "rules_channels", twilio_fake, slack_fake)
    async with running_app(settings, clock) as app:
        incident_id = await fire_service(app, "web", "web-down", alertname="Web")  # unrouted → anna
        body = slack_body("U01ANNA", "ack", incident_id)
        now = str(int(clock.now().timestamp()))
        headers = {
            "X-Slack-Request-Timestamp": now,
            "X-Slack-Signature": slack_signature(SLACK_SIGNING_SECRET, now, body),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        forged = dict(headers, **{"X-Slack-Signature": "v0=" + "0" * 64})
        assert (
            await app.client.post("/slack/actions", content=body, headers=forged)
        ).status_code == 403
        stale_ts = str(int(clock.now().timestamp()) - 600)
        stale = dict(
            headers,
            **{
                "X-Slack-Request-Timestamp": stale_ts,
                "X-Slack-Signature": slack_signature(SLACK_SIGNING_SECRET, stale_ts, body),
            },
        )
        assert (
            await app.client.post("/slack/actions", content=body, headers=stale)
        ).status_code == 401
        assert (await incident_detail(app, incident_id))["state"] == "triggered"
        ok = await app.client.post("/slack/actions", content=body, headers=headers)
        assert ok.status_code == 200
        found = await incident_detail(app, incident_id)
        assert (found["state"], found["acknowledged_by"]) == ("acknowledged", "anna")
        updates = [r for r in slack_fake.requests if r.path.endswith("chat.update")]
        assert len(updates) == 1
        assert "Acknowledged by Anna Berg via Slack" in json.dumps(updates[0].json)


@pytest.fixture
async def slack_app(
    sqlite_database: str, twilio_fake: TwilioFake, slack_fake: SlackFake
) -> AsyncIterator[tuple[RunningApp, FrozenClock]]:
    """Slack's signatures need a real time; anna gets her pages by SMS and Slack."""
    clock = FrozenClock(datetime.fromtimestamp(int(time.time()), UTC))
    settings = _settings(sqlite_database, "rules_channels", twilio_fake, slack_fake)
    async with running_app(settings, clock) as app:
        yield app, clock


def _updates(slack: SlackFake) -> list[dict[str, Any]]:
    """The `chat.update` calls Slack received, oldest first."""
    return [request.json for request in slack.requests if request.path.endswith("chat.update")]


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        str(element["action_id"])
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


async def test_an_sms_ack_restates_the_slack_message_and_a_resolve_says_it_once(
    slack_app: tuple[RunningApp, FrozenClock], slack_fake: SlackFake
) -> None:
    app, clock = slack_app
    incident_id = await fire_service(app, "web", "web-down", alertname="Web")  # → anna
    [dm] = slack_fake.messages
    assert "ack" in _action_ids(dm.blocks)

    assert await sms(app, ANNA, f"{incident_id}a") == (
        f"#{incident_id} acknowledged - paging stopped."
    )
    updates = _updates(slack_fake)
    assert [(u["channel"], u["ts"]) for u in updates] == [(dm.channel, dm.ts)]
    assert "Acknowledged by Anna Berg via SMS" in json.dumps(updates[0]["blocks"])
    assert _action_ids(updates[0]["blocks"]) == ["open", "resolve"]

    resolved = await app.client.post(
        f"/api/incidents/{incident_id}/resolve", headers=app.reader_headers()
    )
    assert resolved.json()["state"] == "resolved"
    await app.services.escalation.settle()
    await run_minutes(app, clock, 3)
    updates = _updates(slack_fake)
    assert len(updates) == 2  # said once, never overwritten by the resolved note after
    assert "Resolved by Anna Berg via the API" in json.dumps(updates[1]["blocks"])
    assert _action_ids(updates[1]["blocks"]) == ["open"]
    assert len(slack_fake.messages) == 1  # no second DM


async def test_a_pagerduty_acknowledge_acknowledges_its_incident(app: RunningApp) -> None:
    trigger = {
        "routing_key": WEBHOOK_TOKEN,
        "event_action": "trigger",
        "dedup_key": "db-1-disk",
        "payload": {"summary": "disk full", "source": "db-1", "severity": "critical"},
    }
    opened = await app.client.post("/v2/enqueue", content=json.dumps(trigger))
    assert opened.status_code == 202
    await app.services.escalation.settle()
    [incident_id] = [
        i["id"]
        for i in (await app.client.get("/api/incidents", headers=app.reader_headers())).json()[
            "items"
        ]
    ]
    assert (await incident_detail(app, incident_id))["state"] == "triggered"

    ack = {"routing_key": WEBHOOK_TOKEN, "event_action": "acknowledge", "dedup_key": "db-1-disk"}
    assert (await app.client.post("/v2/enqueue", content=json.dumps(ack))).status_code == 202
    await app.services.escalation.settle()

    found = await incident_detail(app, incident_id)
    assert found["state"] == "acknowledged"
    event = next(e for e in found["timeline"] if e["kind"] == "acknowledged")
    assert (event["actor"], event["channel"]) == (None, "pagerduty")  # the integration acted
    resolve = {"routing_key": WEBHOOK_TOKEN, "event_action": "resolve", "dedup_key": "db-1-disk"}
    assert (await app.client.post("/v2/enqueue", content=json.dumps(resolve))).status_code == 202
    await app.services.escalation.settle()
    assert (await incident_detail(app, incident_id))["state"] == "resolved"


async def test_resolved_by_its_monitor_the_slack_message_says_so(
    slack_app: tuple[RunningApp, FrozenClock], slack_fake: SlackFake
) -> None:
    app, clock = slack_app
    incident_id = await fire_service(app, "web", "web-down", alertname="Web")  # → anna
    [dm] = slack_fake.messages
    labels = {"service": "web", "alertname": "Web"}
    body = {"summary": "web down", "status": "resolved", "dedup_key": "web-down"}
    await post_generic(app, body | {"labels": labels})
    await app.services.escalation.settle()
    await run_minutes(app, clock, 2)

    assert (await incident_detail(app, incident_id))["state"] == "resolved"
    updates = _updates(slack_fake)
    assert [(u["channel"], u["ts"]) for u in updates] == [(dm.channel, dm.ts)]
    assert "Resolved by its monitor at" in json.dumps(updates[0]["blocks"])
    assert _action_ids(updates[0]["blocks"]) == ["open"]
