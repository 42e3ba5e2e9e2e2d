"""Twilio callbacks: delivery status, SMS replies and voice keys, each signature-checked → 403."""

import logging
from functools import partial
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from app.bodies import read_body
from app.core.incident import ActionKind
from app.errors import Forbidden
from app.escalation.replies import ReplyContext, engineer_by_phone, handle_sms
from app.ids import strict_id
from app.incidents.actions import IncidentAction
from app.incidents.transitions import Who
from app.paging import outbox
from app.paging.base import mask_phone
from app.paging.outcomes import record_receipt
from app.paging.receipts import Answer, act_once
from app.paging.replies import twiml_message
from app.paging.signatures import twilio_url, verify_twilio
from app.paging.voice import (
    confirmation_twiml,
    reprompt_twiml,
    say_and_hang_up,
    voice_action,
)
from app.services import Services

log = logging.getLogger(__name__)
router = APIRouter(tags=["providers"])
_FORM: dict[str, object] = {
    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {}}}}
}
_XML = "application/xml"


async def verified_form(request: Request) -> list[tuple[str, str]]:
    """The form fields of a Twilio callback whose X-Twilio-Signature checks out."""
    services: Services = request.app.state.services
    token = services.settings.twilio_auth_token
    if token is None:
        raise Forbidden("Twilio is not configured here")
    body = await read_body(request, services.settings.max_body_bytes)
    fields = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    url = twilio_url(services.settings.public_url, request.url.path, request.url.query)
    verify_twilio(
        auth_token=token.get_secret_value(),
        url=url,
        params=fields,
        signature=request.headers.get("x-twilio-signature"),
        signature_settings=request.headers.get("x-twilio-webhooks-signature-settings"),
    )
    return fields


@router.post("/twilio/status", openapi_extra=_FORM)
async def message_status(request: Request) -> Response:
    """Delivery receipts: `delivered` is recorded; `failed`/`undelivered` fall back at once."""
    services: Services = request.app.state.services
    fields = dict(await verified_form(request))
    sid = fields.get("MessageSid") or fields.get("CallSid") or ""
    status = (fields.get("MessageStatus") or fields.get("CallStatus") or "").lower()
    rules = services.rules.holder.rules

    def work(conn: Connection) -> bool:
        return record_receipt(
            conn,
            provider_id=sid,
            status=status,
            error=fields.get("ErrorCode"),
            now=services.clock.now(),
            rules=rules,
            reports=services.page_reports,
        )

    if await services.db.transaction(work):
        services.escalation.kick()
    return Response(status_code=204)


@router.post("/twilio/sms", openapi_extra=_FORM)
async def sms_reply(request: Request) -> Response:
    """An engineer's SMS reply (`42a`, `ACK 42`, `away 3d` …), answered in TwiML."""
    services: Services = request.app.state.services
    fields = dict(await verified_form(request))
    rules = services.rules.holder.rules
    engineer = engineer_by_phone(rules, fields.get("From", ""))
    if engineer is None:
        log.info("SMS from a number not in the skills map: %s", mask_phone(fields.get("From", "")))
        return _twiml(twiml_message(None))
    context = ReplyContext(rules, services.clock.now(), services.settings.public_url)
    reply = partial(
        handle_sms,
        engineer=engineer,
        body=fields.get("Body", ""),
        opt_out=fields.get("OptOutType"),
        context=context,
    )

    def work(conn: Connection) -> Answer:
        answer = reply(conn)
        log.info("SMS reply from %s answered: %s", engineer, answer or "(nothing)")
        return Answer(twiml_message(answer), media_type=_XML)

    key = fields.get("MessageSid") or fields.get("SmsSid")
    done = await services.db.transaction(
        partial(act_once, kind="twilio-sms", key=key, now=context.now, act=work)
    )
    if done.replayed:
        log.info("SMS %s from %s was handled before; answered as then", key, engineer)
    else:
        services.escalation.kick()
    return done.answer.response()


@router.post("/twilio/voice", openapi_extra=_FORM)
async def voice_key(request: Request) -> Response:
    """A key pressed during a page call: 4 acknowledges, 5 escalates, 6 resolves."""
    services: Services = request.app.state.services
    fields = dict(await verified_form(request))
    incident_id = _int(request.query_params.get("incident"))
    page_id = _int(request.query_params.get("page"))
    action = voice_action(fields.get("Digits"))
    if incident_id is None or page_id is None:
        return _twiml(say_and_hang_up("Sorry, this call cannot take actions."))
    if action is None:
        public_url = services.settings.public_url
        return _twiml(
            reprompt_twiml(public_url=public_url, incident_id=incident_id, page_id=page_id)
        )
    voice_act = partial(
        _voice_act, incident_id=incident_id, page_id=page_id, action=action, services=services
    )

    def work(conn: Connection) -> Answer:
        refused = voice_act(conn)
        return Answer(say_and_hang_up(refused) if refused else confirmation_twiml(action), _XML)

    call = fields.get("CallSid")
    key = f"{call}:{fields.get('Digits')}:{incident_id}:{page_id}" if call else None
    done = await services.db.transaction(
        partial(act_once, kind="twilio-voice", key=key, now=services.clock.now(), act=work)
    )
    if not done.replayed:
        services.escalation.kick()
    return done.answer.response()


router.add_api_route(
    "/twilio/voice/status",
    message_status,
    methods=["POST"],
    openapi_extra=_FORM,
    summary="Call status callbacks: a call nobody answered falls back like a failed SMS",
)


def _voice_act(
    conn: Connection, *, incident_id: int, page_id: int, action: ActionKind, services: Services
) -> str | None:
    page = outbox.of_incident(conn, page_id, incident_id)
    if page is None:
        return "Sorry, this call does not match an incident."
    act = services.act(IncidentAction(action, incident_id), Who(page.engineer, "voice"))
    return act(conn).refused


def _twiml(text: str) -> Response:
    return Response(text, media_type=_XML)


def _int(value: str | None) -> int | None:
    return strict_id(value) if value else None
