"""SlackChannel over real httpx against a fake Slack Web API on 127.0.0.1."""

from datetime import UTC, datetime, timedelta

import pytest

from app.paging.base import ChannelError, PageKind
from app.paging.slack import SlackChannel
from app.paging.text import slack_fallback
from tests.fakes.slack_server import BOT_TOKEN, SlackFake
from tests.paging.factories import make_page

ANNA = "U01ANNA"


def _buttons(blocks: list[object]) -> dict[str, dict[str, object]]:
    """Buttons of the actions block by action_id."""
    actions = [b for b in blocks if isinstance(b, dict) and b["type"] == "actions"]
    assert len(actions) == 1
    elements = actions[0]["elements"]
    return {element["action_id"]: element for element in elements}


async def test_dm_posts_block_kit_with_buttons_carrying_the_incident(
    slack: SlackChannel, slack_fake: SlackFake
) -> None:
    page = make_page(channel="slack", to=ANNA)

    delivery = await slack.send(page)

    request = slack_fake.requests[0]
    assert request.path == "/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    payload = request.json
    assert payload["channel"] == ANNA
    assert payload["text"] == "[CRIT #42] acme payments-db: replica lag 47s"
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == ":red_circle: [CRIT #42] acme payments-db: replica lag 47s"
    fields = [field["text"] for field in blocks[1]["fields"]]
    assert fields == ["*Severity*\ncritical", "*Customer*\nacme", "*System*\npayments-db"]
    assert blocks[2]["text"]["text"] == "replica lag 47s on payments-db-replica-2"
    assert blocks[3]["elements"][0]["text"] == "*Why you:* postgres 5 + payments 4; carl away"
    buttons = _buttons(blocks)
    assert set(buttons) == {"runbook", "open", "ack", "resolve", "escalate"}
    assert buttons["runbook"]["url"] == "https://docs.example/acme/payments-db"
    assert {buttons[action]["value"] for action in ("ack", "resolve", "escalate")} == {"42"}
    assert buttons["ack"]["style"] == "primary"
    channel = slack_fake.dm_channel(ANNA)
    assert delivery.provider_id == f"{channel}:{slack_fake.messages[0].ts}"
    assert delivery.status == "sent"


@pytest.mark.parametrize(
    "error", ["channel_not_found", "not_in_channel", "user_not_found", "is_archived"]
)
async def test_unreachable_member_is_permanent_and_marks_contact(
    slack: SlackChannel, slack_fake: SlackFake, error: str
) -> None:
    slack_fake.fail_with_error(error)

    with pytest.raises(ChannelError) as caught:
        await slack.send(make_page(to=ANNA))

    assert caught.value.code == error
    assert (caught.value.retryable, caught.value.contact_unhealthy) == (False, True)


async def test_unknown_member_is_reported_by_the_fake_itself(
    slack: SlackChannel, slack_fake: SlackFake
) -> None:
    slack_fake.unknown_users.add(ANNA)

    with pytest.raises(ChannelError) as caught:
        await slack.send(make_page(to=ANNA))

    assert (caught.value.code, caught.value.contact_unhealthy) == ("channel_not_found", True)


@pytest.mark.parametrize(
    "error", ["invalid_auth", "not_authed", "account_inactive", "token_revoked"]
)
async def test_token_problems_are_config_errors(
    slack: SlackChannel, slack_fake: SlackFake, error: str
) -> None:
    slack_fake.fail_with_error(error)

    with pytest.raises(ChannelError) as caught:
        await slack.send(make_page(to=ANNA))

    assert (caught.value.config_error, caught.value.retryable) == (True, False)


async def test_wrong_token_is_rejected_by_the_fake(slack_fake: SlackFake) -> None:
    channel = SlackChannel(bot_token="xoxb-wrong", api_url=slack_fake.url)
    try:
        with pytest.raises(ChannelError) as caught:
            await channel.send(make_page(to=ANNA))
    finally:
        await channel.aclose()

    assert (caught.value.code, caught.value.config_error) == ("invalid_auth", True)
    assert "xoxb-wrong" not in repr(channel)


async def test_http_429_honours_retry_after(slack: SlackChannel, slack_fake: SlackFake) -> None:
    slack_fake.fail_with_status(429, retry_after="30")

    with pytest.raises(ChannelError) as caught:
        await slack.send(make_page(to=ANNA))

    assert (caught.value.retryable, caught.value.retry_after) == (True, 30.0)
    assert caught.value.code == "ratelimited"


async def test_ok_false_ratelimited_is_retryable(
    slack: SlackChannel, slack_fake: SlackFake
) -> None:
    slack_fake.fail_with_error("ratelimited", retry_after="5")

    with pytest.raises(ChannelError) as caught:
        await slack.send(make_page(to=ANNA))

    assert (caught.value.retryable, caught.value.retry_after) == (True, 5.0)


async def test_other_ok_false_errors_are_permanent(
    slack: SlackChannel, slack_fake: SlackFake
) -> None:
    slack_fake.fail_with_error("invalid_blocks")

    with pytest.raises(ChannelError) as caught:
        await slack.send(make_page(to=ANNA))

    assert caught.value.code == "invalid_blocks"
    assert (caught.value.retryable, caught.value.config_error) == (False, False)
    assert caught.value.contact_unhealthy is False


async def test_http_500_is_retryable(slack: SlackChannel, slack_fake: SlackFake) -> None:
    slack_fake.fail_with_status(500)

    with pytest.raises(ChannelError) as caught:
        await slack.send(make_page(to=ANNA))

    assert (caught.value.retryable, caught.value.code) == (True, "http_500")


async def test_timeout_is_retryable(slack: SlackChannel, slack_fake: SlackFake) -> None:
    slack_fake.delay(2.0)

    with pytest.raises(ChannelError) as caught:
        await slack.send(make_page(to=ANNA))

    assert (caught.value.retryable, caught.value.code) == (True, "timeout")


async def test_update_message_replaces_text_and_blocks(
    slack: SlackChannel, slack_fake: SlackFake
) -> None:
    delivery = await slack.send(make_page(to=ANNA))
    channel, ts = delivery.provider_id.split(":")
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Acked by Anna"}}
    ]

    await slack.update_message(channel, ts, text="Acked by Anna <3", blocks=blocks)

    request = slack_fake.requests[-1]
    assert request.path == "/chat.update"
    assert request.json["text"] == "Acked by Anna &lt;3"
    assert slack_fake.messages[0].blocks == blocks
    assert slack_fake.messages[0].text == "Acked by Anna &lt;3"


async def test_update_of_unknown_message_fails_permanently(slack: SlackChannel) -> None:
    with pytest.raises(ChannelError) as caught:
        await slack.update_message("DU01ANNA", "1.000001", text="x")

    assert (caught.value.code, caught.value.retryable) == ("message_not_found", False)


async def test_find_sent_by_member_id_opens_the_dm_and_matches_text(
    slack: SlackChannel, slack_fake: SlackFake
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    page = make_page(to=ANNA, title="[CRIT #42] acme & co <db>")
    await slack.send(make_page(to=ANNA, title="[WARN #41] other"))
    delivery = await slack.send(page)

    found = await slack.find_sent(ANNA, since, "[CRIT #42] acme & co <db>")

    assert found == delivery.provider_id
    assert [request.path for request in slack_fake.requests[-2:]] == [
        "/conversations.open",
        "/conversations.history",
    ]
    assert slack_fake.requests[-1].params["channel"] == slack_fake.dm_channel(ANNA)
    assert slack_fallback(page) == "[CRIT #42] acme &amp; co &lt;db&gt;"


async def test_find_sent_takes_the_earliest_of_identical_messages(slack: SlackChannel) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    page = make_page(to=ANNA)
    first = await slack.send(page)
    later = await slack.send(page)
    text = slack_fallback(page)
    assert await slack.find_sent(ANNA, since, text) == first.provider_id
    assert await slack.find_sent(ANNA, since, text, {first.provider_id}) == later.provider_id


async def test_find_sent_returns_none_for_other_text_or_older_window(
    slack: SlackChannel,
) -> None:
    page = make_page(to=ANNA)
    await slack.send(page)

    assert await slack.find_sent(ANNA, datetime.now(UTC) - timedelta(minutes=1), "nope") is None
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert await slack.find_sent(ANNA, later, slack_fallback(page)) is None


async def test_resolved_note_has_no_action_buttons(
    slack: SlackChannel, slack_fake: SlackFake
) -> None:
    await slack.send(make_page(to=ANNA, kind=PageKind.RESOLVED_NOTE))

    buttons = _buttons(slack_fake.requests[0].json["blocks"])
    assert set(buttons) == {"runbook", "open"}
