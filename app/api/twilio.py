"""Twilio callbacks: delivery status (`/twilio/status`), each signature-checked → 403."""

from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.errors import Forbidden
from app.ingest.router import read_body
from app.paging.outcomes import fail_page
from app.paging.signatures import twilio_url, verify_twilio
from app.routing.rules import Rules
from app.services import Services
from app.store.tables import Base

router = APIRouter(tags=["providers"])
_pages = Base.metadata.tables["pages"]
_FORM: dict[str, object] = {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {}}}}}
_FAILED = {"failed", "undelivered"}
_CALL_FAILED = {"busy", "no-answer", "failed", "canceled"}


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
    work = partial(
        _apply_status,
        sid=sid,
        status=status,
        error=fields.get("ErrorCode"),
        rules=services.rules.holder.rules,
        services=services,
    )
    if await services.db.transaction(work):
        services.escalation.kick()
    return Response(status_code=204)


def _apply_status(
    conn: Connection, *, sid: str, status: str, error: str | None, rules: Rules, services: Services
) -> bool:
    page: Any = conn.execute(select(_pages).where(_pages.c.provider_id == sid)).first()
    if page is None or page.status in ("failed", "delivered"):
        return False
    now = services.clock.now()
    if status == "delivered":
        conn.execute(
            update(_pages)
            .where(_pages.c.id == page.id)
            .values(status="delivered", delivered_at=now)
        )
        return False
    if status in _FAILED or status in _CALL_FAILED:
        fail_page(conn, page, f"twilio {status}" + (f" ({error})" if error else ""), now, rules)
        return True
    return False
