"""`POST /slack/actions`: Ack / Resolve / Escalate buttons, signature-checked, message restated."""

import json
import logging
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.bodies import read_body
from app.errors import Forbidden
from app.incidents.actions import IncidentAction, Outcome
from app.incidents.transitions import Who
from app.paging.receipts import Answer, act_once
from app.paging.signatures import verify_slack
from app.paging.slack_actions import SlackPayloadError, parse_action
from app.services import Services

log = logging.getLogger(__name__)
router = APIRouter(tags=["providers"])
_FORM: dict[str, object] = {
    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {}}}}
}


@router.post("/slack/actions", openapi_extra=_FORM)
async def slack_action(request: Request) -> Response:
    """A button press in a page DM: act as the engineer who pressed it; the DM is restated
    (as after any action) before Slack gets its answer."""
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
    clicked = IncidentAction(action.action, action.incident_id)
    act = services.act(clicked, Who(engineer, "slack"))
    done = await services.db.transaction(
        partial(
            act_once,
            kind="slack",
            key=action.receipt_key(),
            now=services.clock.now(),
            act=lambda conn: _answer(act(conn)),
        )
    )
    if not done.replayed:  # a replay was answered as before, nothing done again
        await services.escalation.send_now([action.incident_id])  # the message restated
    return done.answer.response()


def _answer(outcome: Outcome) -> Answer:
    """Slack's answer to a click: empty when done, an ephemeral note when refused."""
    if not outcome.refused:
        return Answer()
    note = {"response_type": "ephemeral", "text": outcome.refused}
    text = json.dumps(note, ensure_ascii=False, separators=(",", ":"))
    return Answer(text, media_type="application/json")
