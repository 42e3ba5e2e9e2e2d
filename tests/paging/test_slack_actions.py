"""Slack interactivity: parsing button clicks, and the message that replaces a page."""

import json
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from app.core.incident import ActionKind
from app.paging.base import OutboundPage, PageKind
from app.paging.slack import SlackChannel
from app.paging.slack_actions import (
    BUTTON_ACTIONS,
    InboundSlackAction,
    SlackPayloadError,
    UnsupportedInteraction,
    parse_action,
    restated_blocks,
)
from app.paging.text import Block, slack_blocks
from tests.fakes.slack_server import SlackFake
from tests.paging.factories import make_page

RESPONSE_URL = "https://hooks.slack.com/actions/T01/123/abc"
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
        action=ActionKind.ACK,
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


@pytest.mark.parametrize("action", sorted(BUTTON_ACTIONS))
def test_every_button_of_slack_blocks_parses(action: ActionKind) -> None:
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


def _restated(state: str, status: str, **changes: object) -> OutboundPage:
    page = make_page(channel="slack", to="D01BO:1741944433.123459", **changes)
    return replace(page, kind=PageKind.UPDATE, state=state, status=status)


def test_acknowledged_keeps_resolve_and_links_and_adds_the_status_line() -> None:
    line = "Acknowledged by Bo Lind via SMS at 10:42 UTC"
    blocks = restated_blocks(_restated("acknowledged", line))

    assert _action_ids(blocks) == ["runbook", "open", "resolve"]
    assert blocks[:-2] == PAGE_BLOCKS[:-1]  # header, facts, summary, why unchanged
    assert blocks[-1] == {
        "type": "context",
        "block_id": "skillpager-status",
        "elements": [{"type": "mrkdwn", "text": line}],
    }
    assert _action_ids(PAGE_BLOCKS) == ["runbook", "open", "ack", "resolve", "escalate"]


def test_a_resolved_incident_leaves_only_links() -> None:
    blocks = restated_blocks(_restated("resolved", "Resolved by Bo via Slack at 10:42 UTC"))

    assert _action_ids(blocks) == ["runbook", "open"]


def test_triggered_again_shows_every_button() -> None:
    blocks = restated_blocks(_restated("triggered", "Escalated by Bo via Slack at 10:42 UTC"))

    assert _action_ids(blocks) == ["runbook", "open", "ack", "resolve", "escalate"]


def test_an_emptied_actions_block_is_dropped() -> None:
    page = _restated("resolved", "Resolved", runbook_url=None, incident_url=None)

    blocks = restated_blocks(page)

    assert [block["type"] for block in blocks] == [
        "header",
        "section",
        "section",
        "context",
        "context",
    ]
    assert _action_ids(blocks) == []


def test_the_status_line_is_escaped_in_blocks() -> None:
    blocks = restated_blocks(_restated("acknowledged", "Acknowledged by <!channel> & co"))

    assert blocks[-1]["elements"] == [
        {"type": "mrkdwn", "text": "Acknowledged by &lt;!channel&gt; &amp; co"}
    ]


async def test_restate_edits_the_posted_message(slack: SlackChannel, slack_fake: SlackFake) -> None:
    delivery = await slack.send(make_page(channel="slack", to="U01BO"))
    channel, ts = delivery.provider_id.split(":")
    line = "Acknowledged by Bo Lind via Slack at 10:42 UTC"

    done = await slack.restate(_restated("acknowledged", line), delivery.provider_id)

    assert done.provider_id == delivery.provider_id
    update = slack_fake.requests[-1]
    assert update.path == "/chat.update"
    assert (update.json["channel"], update.json["ts"]) == (channel, ts)
    assert str(update.json["text"]).endswith(f" - {line}")
    blocks = update.json["blocks"]
    assert isinstance(blocks, list)
    assert _action_ids(blocks) == ["runbook", "open", "resolve"]
