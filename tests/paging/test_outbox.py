"""The outbox end to end: the service pages through the real Twilio SDK and real HTTP to the
fake provider servers, retries, falls back, throttles, and never pages an acked incident."""

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.clock import FrozenClock
from app.config import Settings
from app.paging.signatures import twilio_signature
from app.store.tokens import TokenKind
from tests.fakes.slack_server import SlackFake
from tests.fakes.twilio_server import AUTH_TOKEN, TwilioFake
from tests.support.app import (
    FIXTURES,
    RunningApp,
    advance,
    fire_critical,
    incident_detail,
    incident_pages,
    running_app,
)
from tests.support.providers import provider_settings

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ANNA, SAM = "+46701112233", "+46709990000"
CHANNEL_RULES = FIXTURES / "rules_channels"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(
    sqlite_database: str, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> AsyncIterator[RunningApp]:
    settings = provider_settings(sqlite_database, twilio_fake, slack_fake, rules_dir=CHANNEL_RULES)
    async with running_app(settings, clock) as running:
        yield running


async def test_new_incident_sends_one_sms_and_one_slack_dm(
    app: RunningApp, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> None:
    # Unrouted: paged to the lead, anna.
    incident_id = await fire_critical(app, "disk", {"alertname": "DiskFull"})
    await advance(app, clock, 1)
    [sms] = twilio_fake.messages
    assert sms.to == ANNA
    assert sms.from_ == "+15550001111"
    assert sms.body.startswith(f"[CRIT #{incident_id}]")
    assert f"Reply {incident_id}a ack" in sms.body
    assert f"http://testserver/i/{incident_id}" in sms.body
    assert sms.status_callback == "http://testserver/twilio/status"
    [dm] = slack_fake.messages
    assert dm.channel == SlackFake.dm_channel("U01ANNA")
    buttons = [e for b in dm.blocks if b.get("type") == "actions" for e in b["elements"]]
    assert {b.get("action_id"): b.get("value") for b in buttons if b.get("value")} == {
        "ack": str(incident_id),
        "resolve": str(incident_id),
        "escalate": str(incident_id),
    }
    assert sorted((p["channel"], p["status"]) for p in await incident_pages(app, incident_id)) == [
        ("slack", "sent"),
        ("sms", "sent"),
    ]


async def test_a_500_is_retried_and_the_sms_goes_once(
    app: RunningApp, twilio_fake: TwilioFake, clock: FrozenClock
) -> None:
    twilio_fake.fail_with_status(500)
    incident_id = await fire_critical(app, "db-down", {"service": "db"})
    [page] = await incident_pages(app, incident_id)
    assert (page["status"], page["attempts"]) == ("pending", 1)
    await advance(app, clock, 5)
    [page] = await incident_pages(app, incident_id)
    assert (page["status"], page["attempts"]) == ("sent", 2)
    posts = [r for r in twilio_fake.requests if r.method == "POST"]
    assert len(posts) == 2
    assert len(twilio_fake.messages_to(SAM)) == 1


async def test_invalid_number_falls_back_to_slack_at_once(
    app: RunningApp, twilio_fake: TwilioFake, slack_fake: SlackFake
) -> None:
    twilio_fake.fail_with_code(21211)
    incident_id = await fire_critical(app, "db-down", {"service": "db"})
    found = await incident_pages(app, incident_id)
    assert sorted((p["channel"], p["status"]) for p in found) == [
        ("slack", "sent"),
        ("sms", "failed"),
    ]
    assert [m.channel for m in slack_fake.messages] == [SlackFake.dm_channel("U09SAM")]
    detail = await app.client.get(f"/api/incidents/{incident_id}", headers=app.reader_headers())
    assert "fallback" in [e["kind"] for e in detail.json()["timeline"]]


async def test_undelivered_status_falls_back_and_forged_callbacks_are_refused(
    app: RunningApp, twilio_fake: TwilioFake, slack_fake: SlackFake
) -> None:
    incident_id = await fire_critical(app, "db-down", {"service": "db"})
    [sms] = twilio_fake.messages
    form = {"MessageSid": sms.sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    url = "http://testserver/twilio/status"
    forged = await app.client.post(
        "/twilio/status", data=form, headers={"X-Twilio-Signature": "forged"}
    )
    assert forged.status_code == 403
    assert slack_fake.messages == []
    signed = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, form)}
    answer = await app.client.post("/twilio/status", data=form, headers=signed)
    assert answer.status_code == 204
    await app.services.escalation.settle()
    assert [m.channel for m in slack_fake.messages] == [SlackFake.dm_channel("U09SAM")]
    # A critical page whose SMS was not delivered also calls the same number.
    assert [call.to for call in twilio_fake.calls] == [SAM]
    statuses = {p["channel"]: p["status"] for p in await incident_pages(app, incident_id)}
    assert statuses == {"sms": "failed", "slack": "sent", "voice": "sent"}


async def test_throttle_bundles_ten_pages_into_few_sms_and_skips_acked(
    sqlite_database: str, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> None:
    settings = provider_settings(
        sqlite_database,
        twilio_fake,
        slack_fake,
        rules_dir=CHANNEL_RULES,
        sms_min_interval="60s",
        sms_per_15min=5,
    )
    async with running_app(settings, clock) as app:
        ids = [await fire_critical(app, f"k{i}", {"alertname": f"Check{i}"}) for i in range(10)]
        acked = ids[-1]
        await app.client.post(f"/api/incidents/{acked}/ack", headers=app.reader_headers())
        for _ in range(6):
            await advance(app, clock, 10)  # one minute in all
        to_anna = twilio_fake.messages_to(ANNA)
        assert len(to_anna) <= 3
        assert to_anna[0].body.startswith(f"[CRIT #{ids[0]}]")
        assert to_anna[1].body.startswith("8 more:")
        for incident_id in ids[1:-1]:
            assert f"#{incident_id} " in to_anna[1].body
        # The acked incident's held SMS never went out; Slack is not throttled.
        statuses = {p["channel"]: p["status"] for p in await incident_pages(app, acked)}
        assert statuses["sms"] == "cancelled"
        assert len(slack_fake.messages) == 10


async def test_resolve_notes_by_sms_and_updates_the_slack_message_in_place(
    app: RunningApp, twilio_fake: TwilioFake, slack_fake: SlackFake, clock: FrozenClock
) -> None:
    # Unrouted: anna, by SMS and Slack.
    incident_id = await fire_critical(app, "disk", {"alertname": "DiskFull"})
    [dm] = slack_fake.messages
    sam = {"Authorization": f"Bearer {await app.token(TokenKind.ENGINEER, 'sam')}"}
    resolved = await app.client.post(f"/api/incidents/{incident_id}/resolve", headers=sam)
    assert resolved.json()["state"] == "resolved"
    await app.services.escalation.settle()
    await advance(app, clock, 1)
    assert [m.body.split("]")[0] for m in twilio_fake.messages_to(ANNA)] == [
        f"[CRIT #{incident_id}",
        f"[RESOLVED #{incident_id}",
    ]
    assert len(slack_fake.messages) == 1  # no second DM: the page's message was updated
    updates = [r.json for r in slack_fake.requests if r.path.endswith("chat.update")]
    assert [(u["channel"], u["ts"]) for u in updates] == [(dm.channel, dm.ts)]
    # Restated once as resolved (no buttons), never overwritten by a resolved note.
    assert "Resolved by Sam Roy via the API" in str(updates[0]["blocks"])
    assert "'action_id': 'ack'" not in str(updates[0]["blocks"])
    kinds = sorted(
        (p["kind"], p["channel"], p["status"]) for p in await incident_pages(app, incident_id)
    )
    assert [k for k in kinds if k[0] != "page"] == [
        ("resolved-note", "sms", "sent"),
        ("update", "slack", "sent"),
    ]


async def test_whoever_resolved_it_gets_no_resolved_note(
    app: RunningApp, twilio_fake: TwilioFake, clock: FrozenClock
) -> None:
    incident_id = await fire_critical(app, "disk", {"alertname": "DiskFull"})  # → anna
    resolved = await app.client.post(
        f"/api/incidents/{incident_id}/resolve",
        headers=app.reader_headers(),  # anna's token
    )
    assert resolved.json()["state"] == "resolved"
    await app.services.escalation.settle()
    await advance(app, clock, 1)

    assert [m.body.split("]")[0] for m in twilio_fake.messages_to(ANNA)] == [
        f"[CRIT #{incident_id}"
    ]
    kinds = {p["kind"] for p in await incident_pages(app, incident_id)}
    assert "resolved-note" not in kinds


def _throttled(database: str, twilio: TwilioFake, slack: SlackFake, rules: Path) -> Settings:
    return provider_settings(
        database, twilio, slack, rules_dir=rules, sms_min_interval="60s", sms_per_15min=5
    )


async def _resolve_as_sam(app: RunningApp, incident_id: int) -> None:
    sam = {"Authorization": f"Bearer {await app.token(TokenKind.ENGINEER, 'sam')}"}
    resolved = await app.client.post(f"/api/incidents/{incident_id}/resolve", headers=sam)
    assert resolved.json()["state"] == "resolved"


@pytest.mark.parametrize(("min_page_age", "told"), [("0s", True), ("10m", False)])
async def test_a_held_page_says_so_and_its_incident_over_meanwhile_is_one_bundle_line(
    sqlite_database: str,
    twilio_fake: TwilioFake,
    slack_fake: SlackFake,
    clock: FrozenClock,
    tmp_path: Path,
    min_page_age: str,
    told: bool,
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(CHANNEL_RULES, rules)
    with (rules / "policy.yaml").open("a") as policy:
        policy.write(f"min_page_age: {min_page_age}\n")
    async with running_app(
        _throttled(sqlite_database, twilio_fake, slack_fake, rules), clock
    ) as app:
        first = await fire_critical(app, "k1", {"alertname": "Disk"})  # → anna at once
        held = await fire_critical(app, "k2", {"alertname": "Cpu"})  # within the minute: held
        waiting = await fire_critical(app, "k3", {"alertname": "Mem"})
        timeline = (await incident_detail(app, held))["timeline"]
        [note] = [e["note"] for e in timeline if e["kind"] == "page_held"]
        assert note.startswith("sms to anna held for the next bundle, due ")

        await advance(app, clock, 20)
        await _resolve_as_sam(app, held)
        for _ in range(5):
            await advance(app, clock, 10)

        first_sms, bundle = [m.body for m in twilio_fake.messages_to(ANNA)]
        assert first_sms.startswith(f"[CRIT #{first}]")
        assert f"#{waiting}" in bundle
        # Told as one line of the bundle (the Slack DM was restated): no page, no full note.
        said = f"#{held} fired 10:00 and resolved 10:00" in bundle
        assert said is told
        kinds = {(p["kind"], p["channel"], p["status"]) for p in await incident_pages(app, held)}
        assert ("page", "sms", "cancelled") in kinds
