"""`POST /slack/actions`: Ack / Resolve / Escalate buttons, signature-checked, message updated."""

import json
import logging
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Connection

from app.bodies import read_body
from app.errors import Forbidden
from app.escalation import service
from app.escalation.service import Actor, Outcome
from app.paging.base import ChannelError
from app.paging.receipts import Answer, act_once
from app.paging.signatures import verify_slack
from app.paging.slack import SlackChannel
from app.paging.slack_actions import (
    InboundSlackAction,
    SlackAction,
    SlackPayloadError,
    parse_action,
    updated_blocks,
    updated_text,
)
from app.services import Services

log = logging.getLogger(__name__)
router = APIRouter(tags=["providers"])
_FORM: dict[str, object] = {
    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {}}}}
}


@router.post("/slack/actions", openapi_extra=_FORM)
async def slack_action(request: Request) -> Response:
    """A button press in a page DM: act as the engineer who pressed it, then update the DM."""
    services: Services = request.app.state.services
    secret = services.settings.slack_signing_secret
    if secret is None:
        raise Forbidden("Slack is not configured here")
    body = await read_body(request, services.settings.max_body_bytes)
    verify_slack(
        signing_secret=secret.get_secret_value(),
        timestamp=request.headers.get("x-slack-request-timestamp"),
        signature=request.headers.get("x-slack-signature"),
        body=body,
        now=services.clock.now(),
    )
    try:
        action = parse_action(body)
    except SlackPayloadError as exc:
        return JSONResponse({"error": "unsupported interaction", "detail": str(exc)}, 400)
    if action is None:
        return Response(status_code=200)  # a link button: nothing to do
    rules = services.rules.holder.rules
    engineer = next((e for e, v in rules.engineers.items() if v.slack == action.user_id), None)
    if engineer is None:
        return JSONResponse({"response_type": "ephemeral", "text": "You are not on the team."})
    act = partial(_act, action=action, engineer=engineer, services=services)
    done = await services.db.transaction(
        partial(
            act_once,
            kind="slack",
            key=action.receipt_key(),
            now=services.clock.now(),
            act=lambda conn: _answer(act(conn)),
        )
    )
    if done.replayed:
        return done.answer.response()  # a replay: answered as before, nothing done again
    services.escalation.kick()
    if done.answer.body:  # refused: said to the engineer alone
        return done.answer.response()
    name = rules.engineers[engineer].name or engineer
    await _update_message(services, action, name)
    return done.answer.response()


def _answer(outcome: Outcome) -> Answer:
    """Slack's answer to a click: empty when done, an ephemeral note when refused."""
    if not outcome.refused:
        return Answer()
    note = {"response_type": "ephemeral", "text": outcome.refused}
    text = json.dumps(note, ensure_ascii=False, separators=(",", ":"))
    return Answer(text, media_type="application/json")


def _act(
    conn: Connection, *, action: InboundSlackAction, engineer: str, services: Services
) -> Outcome:
    actor = Actor(engineer, "slack")
    now, rules, incident_id = services.clock.now(), services.rules.holder.rules, action.incident_id
    if action.action is SlackAction.ACK:
        return service.acknowledge(conn, incident_id, actor=actor, rules=rules, now=now)
    if action.action is SlackAction.ESCALATE:
        return service.escalate(conn, incident_id, actor=actor, now=now)
    return service.resolve(
        conn,
        incident_id,
        actor=actor,
        rules=rules,
        now=now,
        public_url=services.settings.public_url,
    )


async def _update_message(services: Services, action: InboundSlackAction, actor: str) -> None:
    channel = services.channels.get("slack")
    if not isinstance(channel, SlackChannel):
        return
    at = services.clock.now()
    blocks = updated_blocks(action.message_blocks, action.action, actor=actor, at=at)
    text = updated_text(f"#{action.incident_id}", action.action, actor=actor, at=at)
    try:
        await channel.update_message(action.channel_id, action.message_ts, text=text, blocks=blocks)
    except ChannelError as exc:
        # The action itself is done; a stale message is cosmetic.
        log.warning("could not update the Slack message: %s", exc.code)
