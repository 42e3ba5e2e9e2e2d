"""Slack button clicks: parse the interactivity POST, and build the message that replaces a page.

Slack posts `application/x-www-form-urlencoded` with one field, `payload`, holding JSON of type
`block_actions`. Verify the signature over the raw body first (`signatures.verify_slack`), then
call `parse_action(body)`. The action ids are those `text.slack_blocks` gives its buttons.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.ids import strict_id
from app.paging.base import OutboundPage
from app.paging.text import Block, slack_blocks, slack_escape


class SlackAction(StrEnum):
    """What an incident button asks for (`action_id` of the button)."""

    ACK = "ack"
    RESOLVE = "resolve"
    ESCALATE = "escalate"


# Link buttons (`text.slack_blocks`): Slack reports their clicks too, but there is nothing to do.
LINK_ACTIONS = frozenset({"runbook", "open"})
_STATUS_BLOCK_ID = "skillpager-status"
# Buttons that still make sense after each action; the link buttons always stay.
_REMAINING = {
    SlackAction.ACK: frozenset({"resolve"}),
    SlackAction.RESOLVE: frozenset[str](),
    SlackAction.ESCALATE: frozenset[str](),
}
_PAST = {
    SlackAction.ACK: "Acknowledged",
    SlackAction.RESOLVE: "Resolved",
    SlackAction.ESCALATE: "Escalated",
}


class SlackPayloadError(ValueError):
    """The interactivity request is malformed: answer 400 and do nothing."""


class UnsupportedInteraction(SlackPayloadError):
    """A well-formed interaction we do not handle (another payload type or action id)."""


@dataclass(frozen=True, slots=True)
class InboundSlackAction:
    """One incident button click."""

    action: SlackAction
    incident_id: int
    user_id: str
    user_name: str | None
    channel_id: str
    message_ts: str
    response_url: str | None
    action_ts: str | None
    message_blocks: tuple[Block, ...] = ()  # the clicked message, for `updated_blocks`
    trigger_id: str | None = None  # unique per click: how a replayed request is recognised

    def receipt_key(self) -> str | None:
        """What identifies this click among all others (see `receipts.act_once`)."""
        click = self.trigger_id or self.action_ts
        return f"{self.action.value}:{click}:{self.message_ts}" if click else None


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _User(_Loose):
    id: str = Field(min_length=1)
    name: str | None = None
    username: str | None = None


class _Container(_Loose):
    channel_id: str | None = None
    message_ts: str | None = None


class _Channel(_Loose):
    id: str | None = None


class _Message(_Loose):
    ts: str | None = None
    blocks: list[dict[str, object]] = Field(default_factory=list)


class _Action(_Loose):
    action_id: str = Field(min_length=1)
    value: str | None = None
    action_ts: str | None = None


class _Payload(_Loose):
    type: str
    user: _User
    actions: list[_Action] = Field(min_length=1)
    container: _Container = _Container()
    channel: _Channel = _Channel()
    message: _Message = _Message()
    response_url: str | None = None
    trigger_id: str | None = None


def parse_action(body: bytes) -> InboundSlackAction | None:
    """Parse a raw interactivity body; None for a link-button click (answer 200, do nothing).

    Raises UnsupportedInteraction for other payload types or unknown action ids, and
    SlackPayloadError for anything malformed.
    """
    payload = _payload(body)
    if payload.type != "block_actions":
        raise UnsupportedInteraction(f"interaction type {payload.type!r} is not handled")
    clicked = payload.actions[0]
    if clicked.action_id in LINK_ACTIONS:
        return None
    try:
        action = SlackAction(clicked.action_id)
    except ValueError:
        raise UnsupportedInteraction(f"action_id {clicked.action_id!r} is not handled") from None
    channel_id = payload.container.channel_id or payload.channel.id
    message_ts = payload.container.message_ts or payload.message.ts
    if not channel_id or not message_ts:
        raise SlackPayloadError("payload has no channel id or message ts")
    return InboundSlackAction(
        action=action,
        incident_id=_incident_id(clicked.value),
        user_id=payload.user.id,
        user_name=payload.user.name or payload.user.username,
        channel_id=channel_id,
        message_ts=message_ts,
        response_url=payload.response_url,
        action_ts=clicked.action_ts,
        message_blocks=tuple(payload.message.blocks),
        trigger_id=payload.trigger_id,
    )


def _payload(body: bytes) -> _Payload:
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise SlackPayloadError("body is not a UTF-8 form") from exc
    values = fields.get("payload")
    if values is None or len(values) != 1:
        raise SlackPayloadError("form must have exactly one `payload` field")
    try:
        return _Payload.model_validate(json.loads(values[0]))
    except json.JSONDecodeError as exc:
        raise SlackPayloadError("`payload` is not JSON") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["payload", *(str(part) for part in first["loc"])])
        raise SlackPayloadError(f"{where}: {first['msg']}") from exc


def _incident_id(value: str | None) -> int:
    # Our buttons carry the incident id as a plain decimal string (`text._buttons`).
    found = strict_id(value) if value is not None else None
    if found is None:
        raise SlackPayloadError(f"button value {value!r} is not an incident id")
    return found


def status_line(action: SlackAction, *, actor: str, at: datetime, via: str = "Slack") -> str:
    """`Acknowledged by Bo Lind via Slack at 10:42 UTC` (plain text, not escaped)."""
    return f"{_PAST[action]} by {actor} via {via} at {at.astimezone(UTC):%H:%M} UTC"


def updated_blocks(
    blocks: Sequence[Block], action: SlackAction, *, actor: str, at: datetime, via: str = "Slack"
) -> list[Block]:
    """The page's blocks after `action`: spent buttons dropped, a status line at the end.

    Works on the clicked message's own blocks (`InboundSlackAction.message_blocks`) or on
    `text.slack_blocks(page)`; applying it twice (ack, then resolve) keeps one status line.
    """
    spent = {member.value for member in SlackAction} - _REMAINING[action]
    kept = [
        reduced
        for block in blocks
        if block.get("block_id") != _STATUS_BLOCK_ID
        and (reduced := _without_buttons(block, spent)) is not None
    ]
    line = slack_escape(status_line(action, actor=actor, at=at, via=via))
    status: Block = {
        "type": "context",
        "block_id": _STATUS_BLOCK_ID,
        "elements": [{"type": "mrkdwn", "text": line}],
    }
    return [*kept, status]


def updated_page_blocks(
    page: OutboundPage, action: SlackAction, *, actor: str, at: datetime, via: str = "Slack"
) -> list[Block]:
    """`updated_blocks` over the page's original Block Kit (when the click's copy is gone)."""
    return updated_blocks(slack_blocks(page), action, actor=actor, at=at, via=via)


def updated_text(
    title: str, action: SlackAction, *, actor: str, at: datetime, via: str = "Slack"
) -> str:
    """Notification text for chat.update: `[CRIT #42] acme payments-db - Acknowledged by …`.

    Plain text: `SlackChannel.update_message` escapes it.
    """
    line = status_line(action, actor=actor, at=at, via=via)
    return f"{title} - {line}" if title else line


def _without_buttons(block: Block, spent: set[str]) -> Block | None:
    """Drop `spent` action buttons; None when that empties an actions block."""
    elements = block.get("elements")
    if block.get("type") != "actions" or not isinstance(elements, list):
        return block
    kept = [
        element
        for element in elements
        if not (isinstance(element, dict) and element.get("action_id") in spent)
    ]
    return {**block, "elements": kept} if kept else None
