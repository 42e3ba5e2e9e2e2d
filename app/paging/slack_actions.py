"""Slack button clicks: parse the interactivity POST, and build the message that replaces a page.

Slack posts `application/x-www-form-urlencoded` with one field, `payload`, holding JSON of type
`block_actions`. Verify the signature over the raw body first (`signatures.verify_slack`), then
call `parse_action(body)`. The action ids are those `text.slack_blocks` gives its buttons.
"""

import json
from dataclasses import dataclass, replace
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.incident import ActionKind, IncidentState
from app.ids import strict_id
from app.paging.base import OutboundPage, PageKind
from app.paging.text import Block, slack_blocks, slack_escape

# The incident buttons of a page (`action_id`s of `text.slack_blocks`), as actions.
BUTTON_ACTIONS = frozenset({ActionKind.ACK, ActionKind.RESOLVE, ActionKind.ESCALATE})
# Link buttons (`text.slack_blocks`): Slack reports their clicks too, but there is nothing to do.
LINK_ACTIONS = frozenset({"runbook", "open"})
_STATUS_BLOCK_ID = "skillpager-status"
# The incident buttons that still make sense in each state; the link buttons always stay.
_LIVE_BUTTONS = {
    IncidentState.TRIGGERED.value: frozenset({"ack", "resolve", "escalate"}),
    IncidentState.ACKNOWLEDGED.value: frozenset({"resolve"}),
    IncidentState.SNOOZED.value: frozenset({"resolve"}),
}


class SlackPayloadError(ValueError):
    """The interactivity request is malformed: answer 400 and do nothing."""


class UnsupportedInteraction(SlackPayloadError):
    """A well-formed interaction we do not handle (another payload type or action id)."""


@dataclass(frozen=True, slots=True)
class InboundSlackAction:
    """One incident button click."""

    action: ActionKind  # one of BUTTON_ACTIONS
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
    action = next((a for a in BUTTON_ACTIONS if a.value == clicked.action_id), None)
    if action is None:
        raise UnsupportedInteraction(f"action_id {clicked.action_id!r} is not handled")
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


def restated_blocks(page: OutboundPage) -> list[Block]:
    """The Block Kit of a page restated (`page.kind` UPDATE): the page's blocks with only the
    buttons its incident's state (`page.state`) still allows, and `page.status` at the end."""
    spent = {"ack", "resolve", "escalate"} - _LIVE_BUTTONS.get(page.state or "", frozenset())
    kept = [
        reduced
        for block in slack_blocks(replace(page, kind=PageKind.PAGE))
        if (reduced := _without_buttons(block, spent)) is not None
    ]
    status: Block = {
        "type": "context",
        "block_id": _STATUS_BLOCK_ID,
        "elements": [{"type": "mrkdwn", "text": slack_escape(page.status or "")}],
    }
    return [*kept, status]


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
