"""Per-source authentication and parsing: what sits between the raw request and the writer.

Most sources present a webhook token. Some have their own scheme: SNS signs every message,
Grafana may sign with HMAC, PagerDuty-speaking tools can often set nothing but `routing_key`.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from app.api.sns_subscription import receive_sns
from app.auth import credential_of
from app.errors import Unauthorized
from app.ingest import grafana, pagerduty
from app.ingest.registry import ParseOutcome
from app.ingest.writer import WriteResult
from app.services import Services


@dataclass(slots=True)
class Received:
    """An authenticated, parsed request, ready for the writer."""

    outcome: ParseOutcome
    delivery_id: str | None = None
    # Sources with their own answer shape (PagerDuty) build it from the write result.
    answer: Callable[[WriteResult], Response] | None = None


Receiver = Callable[[Request, bytes, Services], Awaitable[Received]]


async def receive_grafana(request: Request, body: bytes, services: Services) -> Received:
    """Grafana: a webhook token, or (when a secret is set) its HMAC signature."""
    secret = services.settings.grafana_hmac_secret
    token = credential_of(request)
    principal = await services.tokens.principal(token) if token else None
    if principal is None or not principal.may_post("grafana"):
        if secret is None:
            await services.tokens.require_webhook(request, "grafana")
        else:
            grafana.verify_grafana_signature(
                secret.get_secret_value(),
                body,
                request.headers.get("x-grafana-alerting-signature"),
                request.headers.get("x-grafana-alerting-timestamp"),
                services.clock.now(),
            )
    return Received(ParseOutcome(grafana.parse(body)))


async def authenticate_pagerduty(request: Request, body: bytes, services: Services) -> None:
    """PagerDuty Events v2: a webhook token sent any usual way, or as the `routing_key`."""
    token = credential_of(request) or pagerduty.routing_key_of(body)
    principal = await services.tokens.principal(token) if token else None
    if principal is None:
        raise Unauthorized("a webhook token is required (header, ?token= or routing_key)")
    if not principal.may_post("pagerduty"):
        await services.tokens.require_webhook(request, "pagerduty")


async def receive_pagerduty(request: Request, body: bytes, services: Services) -> Received:
    """A PagerDuty alert event (trigger, acknowledge, resolve), answered in PagerDuty's shape."""
    await authenticate_pagerduty(request, body, services)
    event = pagerduty.parse_event(body)

    def answer(_result: WriteResult) -> JSONResponse:
        body = {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}
        return JSONResponse(body, 202)

    return Received(ParseOutcome([event.alert]), answer=answer)


async def receive_cloudwatch(request: Request, body: bytes, services: Services) -> Received:
    """CloudWatch through an SNS HTTPS subscription: every message's signature is verified."""
    alerts, envelope = await receive_sns(body, services)
    return Received(ParseOutcome(alerts), delivery_id=envelope.message_id)


# Sources with their own authentication; every other source takes a webhook token.
OWN_AUTH_RECEIVERS: dict[str, Receiver] = {
    "grafana": receive_grafana,
    "cloudwatch": receive_cloudwatch,
    "pagerduty": receive_pagerduty,
}
