"""Slack interactivity: parsing button clicks, and the message that replaces a page."""

import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from app.paging.slack import SlackChannel
from app.paging.slack_actions import (
    InboundSlackAction,
    SlackAction,
    SlackPayloadError,
    UnsupportedInteraction,
    parse_action,
    status_line,
    updated_blocks,
    updated_page_blocks,
    updated_text,
)
from app.paging.text import Block, slack_blocks
from tests.fakes.slack_server import SlackFake
from tests.paging.factories import make_page

RESPONSE_URL = "https://hooks.slack.com/actions/T01/123/abc"
AT = datetime(2026, 11, 30, 10, 42, 17, tzinfo=UTC)
PAGE_BLOCKS = slack_blocks(make_page(channel="slack", to="U01BO"))


def _payload(**changes: object) -> dict[str, object]:
    """A block_actions payload as Slack sends it for a click on a page's Ack button."""
    payload: dict[str, object] = {
        "type": "block_actions",
        "user": {"id": "U01BO", "username": "bo.lind", "name": "bo.lind", "team_id": "T01"},
        "api_app_id": "A01",
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": "1741944433.123459",
            "channel_id": "D01BO",
            "is_ephemeral": False,
        },
        "trigger_id": "123.456.abc",
        "team": {"id": "T01", "domain": "acme"},
        "channel": {"id": "D01BO", "name": "directmessage"},
        "message": {"type": "message", "ts": "1741944433.123459", "blocks": PAGE_BLOCKS},
        "state": {"values": {}},
        "response_url": RESPONSE_URL,
        "actions": [
            {
                "action_id": "ack",
                "block_id": "incident:42",
                "text": {"type": "plain_text", "text": "Ack", "emoji": True},
                "value": "42",
                "style": "primary",
                "type": "button",
                "action_ts": "1741944500.000100",
            }
        ],
    }
    payload.update(changes)
    return payload


def _body(payload: object) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def _click(action_id: str, value: str = "42") -> dict[str, object]:
    return {"action_id": action_id, "block_id": "incident:42", "value": value, "type": "button"}


def _action_ids(blocks: list[Block]) -> list[str]:
    ids = []
    for block in blocks:
        elements = block.get("elements")
        if block.get("type") == "actions" and isinstance(elements, list):
            ids += [str(element["action_id"]) for element in elements]
    return ids


def test_ack_click_is_parsed_into_plain_fields() -> None:
    parsed = parse_action(_body(_payload()))

    assert parsed == InboundSlackAction(
        action=SlackAction.ACK,
        incident_id=42,
        user_id="U01BO",
        user_name="bo.lind",
        channel_id="D01BO",
        message_ts="1741944433.123459",
        response_url=RESPONSE_URL,
        action_ts="1741944500.000100",
        message_blocks=tuple(PAGE_BLOCKS),
        trigger_id="123.456.abc",
    )


@pytest.mark.parametrize("action", list(SlackAction))
def test_every_button_of_slack_blocks_parses(action: SlackAction) -> None:
    # The action ids come from text.slack_blocks: a rename there must break this test.
    assert action.value in _action_ids(PAGE_BLOCKS)
    parsed = parse_action(_body(_payload(actions=[_click(action.value)])))

    assert parsed is not None
    assert (parsed.action, parsed.incident_id) == (action, 42)


@pytest.mark.parametrize("action_id", ["runbook", "open"])
def test_link_button_clicks_need_no_work(action_id: str) -> None:
    click = {"action_id": action_id, "block_id": "incident:42", "type": "button"}

    assert parse_action(_body(_payload(actions=[click]))) is None


def test_channel_and_ts_fall_back_to_channel_and_message() -> None:
    parsed = parse_action(_body(_payload(container={"type": "message"})))

    assert parsed is not None
    assert (parsed.channel_id, parsed.message_ts) == ("D01BO", "1741944433.123459")


def test_optional_fields_may_be_absent() -> None:
    payload = _payload(user={"id": "U01BO"}, actions=[_click("resolve")])
    for key in ("response_url", "message", "channel", "team", "state", "trigger_id"):
        del payload[key]

    parsed = parse_action(_body(payload))

    assert parsed is not None
    assert parsed.user_name is None
    assert parsed.response_url is None
    assert parsed.message_blocks == ()
    assert parsed.action_ts is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "form must have exactly one `payload` field"),
        (b"text=hello", "form must have exactly one `payload` field"),
        (b"payload=a&payload=b", "form must have exactly one `payload` field"),
        (b"payload=%7Bnot+json", "`payload` is not JSON"),
        (b"payload=%ff%fe", "body is not a UTF-8 form"),
        (b"\xff\xfe", "body is not a UTF-8 form"),
        (_body([1, 2]), "payload: Input should be a valid dictionary"),
        (_body(_payload(user=None)), "payload.user: Input should be a valid dictionary"),
        (_body(_payload(user={"name": "bo"})), "payload.user.id: Field required"),
        (_body(_payload(user={"id": ""})), "payload.user.id: String should have at least 1"),
        (_body(_payload(actions=[])), "payload.actions: List should have at least 1 item"),
        (_body(_payload(actions=[{"value": "42"}])), "payload.actions.0.action_id: Field required"),
        (_body({"user": {"id": "U1"}, "actions": [_click("ack")]}), "payload.type: Field required"),
        (_body(_payload(container={}, channel={}, message={})), "payload has no channel id"),
    ],
)
def test_malformed_payloads_are_rejected(body: bytes, message: str) -> None:
    with pytest.raises(SlackPayloadError) as caught:
        parse_action(body)

    assert str(caught.value).startswith(message)
    assert not isinstance(caught.value, UnsupportedInteraction)


@pytest.mark.parametrize("value", ["forty-two", "", "4 2", "-42", "42.0", "\u0664\u0662", None])
def test_non_numeric_incident_is_rejected(value: str | None) -> None:
    click = {"action_id": "ack", "type": "button"} | ({"value": value} if value is not None else {})

    with pytest.raises(SlackPayloadError, match="is not an incident id"):
        parse_action(_body(_payload(actions=[click])))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "view_submission"}, "interaction type 'view_submission' is not handled"),
        ({"type": "shortcut"}, "interaction type 'shortcut' is not handled"),
        ({"actions": [_click("delete")]}, "action_id 'delete' is not handled"),
    ],
)
def test_other_interactions_are_unsupported(changes: dict[str, object], message: str) -> None:
    with pytest.raises(UnsupportedInteraction, match=message):
        parse_action(_body(_payload(**changes)))


def test_status_line_is_in_utc() -> None:
    stockholm = AT.astimezone(timezone(timedelta(hours=1)))

    assert status_line(SlackAction.ACK, actor="Bo Lind", at=stockholm) == (
        "Acknowledged by Bo Lind via Slack at 10:42 UTC"
    )
    assert status_line(SlackAction.RESOLVE, actor="Anna", at=AT, via="SMS") == (
        "Resolved by Anna via SMS at 10:42 UTC"
    )


def test_ack_keeps_resolve_and_links_and_adds_the_status_line() -> None:
    blocks = updated_blocks(PAGE_BLOCKS, SlackAction.ACK, actor="Bo Lind", at=AT)

    assert _action_ids(blocks) == ["runbook", "open", "resolve"]
    assert blocks[:-2] == PAGE_BLOCKS[:-1]  # header, facts, summary, why unchanged
    assert blocks[-1] == {
        "type": "context",
        "block_id": "skillpager-status",
        "elements": [{"type": "mrkdwn", "text": "Acknowledged by Bo Lind via Slack at 10:42 UTC"}],
    }
    assert _action_ids(PAGE_BLOCKS) == ["runbook", "open", "ack", "resolve", "escalate"]


@pytest.mark.parametrize("action", [SlackAction.RESOLVE, SlackAction.ESCALATE])
def test_resolve_and_escalate_leave_only_links(action: SlackAction) -> None:
    blocks = updated_blocks(PAGE_BLOCKS, action, actor="Bo Lind", at=AT)

    assert _action_ids(blocks) == ["runbook", "open"]


def test_an_emptied_actions_block_is_dropped() -> None:
    page = make_page(channel="slack", runbook_url=None, incident_url=None)

    blocks = updated_page_blocks(page, SlackAction.RESOLVE, actor="Bo", at=AT)

    assert [block["type"] for block in blocks] == [
        "header",
        "section",
        "section",
        "context",
        "context",
    ]
    assert _action_ids(blocks) == []


def test_ack_then_resolve_keeps_one_status_line() -> None:
    acked = updated_blocks(PAGE_BLOCKS, SlackAction.ACK, actor="Bo Lind", at=AT)

    resolved = updated_blocks(acked, SlackAction.RESOLVE, actor="Anna", at=AT, via="SMS")

    statuses = [block for block in resolved if block.get("block_id") == "skillpager-status"]
    assert len(statuses) == 1
    assert statuses[0]["elements"] == [
        {"type": "mrkdwn", "text": "Resolved by Anna via SMS at 10:42 UTC"}
    ]
    assert _action_ids(resolved) == ["runbook", "open"]


def test_actor_name_is_escaped_in_blocks() -> None:
    blocks = updated_blocks(PAGE_BLOCKS, SlackAction.ACK, actor="<!channel> & co", at=AT)

    assert blocks[-1]["elements"] == [
        {
            "type": "mrkdwn",
            "text": "Acknowledged by &lt;!channel&gt; &amp; co via Slack at 10:42 UTC",
        }
    ]


def test_updated_text() -> None:
    title = "[CRIT #42] acme payments-db"

    assert updated_text(title, SlackAction.ACK, actor="Bo Lind", at=AT) == (
        "[CRIT #42] acme payments-db - Acknowledged by Bo Lind via Slack at 10:42 UTC"
    )
    assert updated_text("", SlackAction.ESCALATE, actor="Bo", at=AT, via="voice") == (
        "Escalated by Bo via voice at 10:42 UTC"
    )


async def test_click_to_chat_update_round_trip(slack: SlackChannel, slack_fake: SlackFake) -> None:
    delivery = await slack.send(make_page(channel="slack", to="U01BO"))
    channel, ts = delivery.provider_id.split(":")
    posted = slack_fake.messages[0]
    payload = _payload(
        container={"type": "message", "channel_id": channel, "message_ts": ts},
        message={"ts": ts, "blocks": posted.blocks},
    )
    click = parse_action(_body(payload))
    assert click is not None

    await slack.update_message(
        click.channel_id,
        click.message_ts,
        text=updated_text("[CRIT #42] acme", click.action, actor="Bo Lind", at=AT),
        blocks=updated_blocks(click.message_blocks, click.action, actor="Bo Lind", at=AT),
    )

    update = slack_fake.requests[-1]
    assert update.path == "/chat.update"
    assert update.json["ts"] == ts
    assert update.json["text"] == "[CRIT #42] acme - Acknowledged by Bo Lind via Slack at 10:42 UTC"
    blocks = update.json["blocks"]
    assert isinstance(blocks, list)
    assert _action_ids(blocks) == ["runbook", "open", "resolve"]
