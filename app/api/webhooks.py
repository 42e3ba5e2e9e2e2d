"""`POST /webhooks/{source}` (and PagerDuty's `/v2/enqueue`, Alertmanager's `/api/v2/alerts`):
authenticate, read (bounded), parse, hand to the writer, answer 2xx only after the commit.
PagerDuty's change events (`/v2/change/enqueue`) are stored as they come, beside the incidents
of their system."""

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.api.errors import InvalidEvent
from app.api.webhook_receivers import OWN_AUTH_RECEIVERS, Received, authenticate_pagerduty
from app.auth import credential_of
from app.bodies import read_body
from app.errors import Forbidden, NotFound, Unauthorized
from app.incidents import changes
from app.ingest import alertmanager, pagerduty
from app.ingest.base import ParseError, SchemaError
from app.ingest.postable import parse_postable
from app.ingest.redact import stored_body
from app.ingest.registry import PARSERS, ParseOutcome
from app.ingest.writer import Submission
from app.services import Services
from app.store.tokens import hash_token

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])

# Headers worth keeping with the raw event for audit and replay (never credentials).
_KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-forwarded-for",
    "x-amz-sns-message-type",
    "x-amz-sns-message-id",
    "x-amz-sns-topic-arn",
    "x-grafana-alerting-timestamp",
    "x-grafana-alerting-signature",
)
_ANY_BODY: dict[str, object] = {"requestBody": {"content": {"application/json": {"schema": {}}}}}


def kept_headers(request: Request) -> dict[str, str]:
    """The audit-worthy headers of a request."""
    return {name: request.headers[name] for name in _KEPT_HEADERS if name in request.headers}


@router.post("/webhooks/{source}", status_code=202, openapi_extra=_ANY_BODY)
async def receive_webhook(source: str, request: Request) -> Response:
    """Store a monitor's alerts; 202 only after they are committed."""
    if source not in PARSERS:
        raise NotFound(f"unknown source {source!r}", detail={"known": sorted(PARSERS)})
    if source == "pagerduty":
        return await enqueue(request)
    return await _receive(source, request)


@router.post("/v2/enqueue", status_code=202, openapi_extra=_ANY_BODY)
async def enqueue(request: Request) -> Response:
    """PagerDuty Events API v2, in PagerDuty's own answer shape, errors included."""
    with pagerduty_answers():
        return await _receive("pagerduty", request)


@router.post("/v2/change/enqueue", status_code=202, openapi_extra=_ANY_BODY)
async def change_enqueue(request: Request) -> JSONResponse:
    """PagerDuty change events (deploys and the like): stored beside the incidents of the
    system they match, never paging; answered in PagerDuty's shape."""
    services: Services = request.app.state.services
    with pagerduty_answers():
        body = await read_body(request, services.settings.max_body_bytes)
        await authenticate_pagerduty(request, body, services)
        change = pagerduty.parse_change(body)
    record = partial(
        changes.record, change=change, rules=services.rules.holder.rules, now=services.clock.now()
    )
    await services.db.transaction(record)
    return JSONResponse({"status": "success", "message": "Change event processed"}, 202)


@contextmanager
def pagerduty_answers() -> Iterator[None]:
    """Refusals as PagerDuty words them: a wrong or missing routing key (or token) is a 400
    "Invalid routing key", as PagerDuty answers an unknown key, not our 401."""
    try:
        yield
    except (Unauthorized, Forbidden) as exc:
        raise InvalidEvent(exc.reason, "Event object is invalid", ["Invalid routing key"]) from exc
    except (ParseError, SchemaError) as exc:
        raise InvalidEvent("invalid_event", "Event object is invalid", [str(exc)]) from exc


@router.post("/api/v2/alerts", tags=["alertmanager"], openapi_extra=_ANY_BODY)
async def post_alerts(request: Request) -> Response:
    """Alertmanager API v2 `postAlerts` (Prometheus's `alerting.alertmanagers`, Grafana's
    external Alertmanager): a webhook token for `alertmanager`; 200 only after the commit."""
    services: Services = request.app.state.services

    def parse(body: bytes) -> Received:
        alerts = parse_postable(body, services.clock.now())
        return Received(ParseOutcome(alerts), answer=lambda _result: Response(status_code=200))

    return await _receive(alertmanager.SOURCE, request, parse)


async def _receive(
    source: str, request: Request, parse: Callable[[bytes], Received] | None = None
) -> Response:
    started = time.perf_counter()
    services: Services = request.app.state.services
    receiver = OWN_AUTH_RECEIVERS.get(source)
    if receiver is None:
        # Token sources are refused before their body is read.
        await services.tokens.require_webhook(request, source)
        body = await read_body(request, services.settings.max_body_bytes)
        received = parse(body) if parse else Received(PARSERS[source](body))
    else:
        body = await read_body(request, services.settings.max_body_bytes)
        received = await receiver(request, body, services)
    answer = await _store(source, request, body, received, services)
    services.metrics.request_latency.labels(source).observe(time.perf_counter() - started)
    return answer


async def _store(
    source: str, request: Request, body: bytes, received: Received, services: Services
) -> Response:
    outcome = received.outcome
    if outcome.truncated:
        services.metrics.truncated_alerts.inc(outcome.truncated)
    within_limit = services.ingest_limits.allow(_limit_key(source, request), len(outcome.alerts))
    if not within_limit:
        services.metrics.grouping_only.labels(source).inc(len(outcome.alerts))
    submission = Submission(
        source,
        stored_body(source, body),  # credentials blanked, every other byte kept
        kept_headers(request),
        outcome.alerts,
        received.delivery_id,
        grouping_only=not within_limit,
    )
    result = await services.writer.submit(submission)
    if services.settings.active_failpoint() == "after_commit_before_202":
        os._exit(137)  # crash test: committed, but the monitor never hears 202
    await services.heartbeats.monitor.beat_from(source, outcome.alerts)  # Watchdog beats
    if result.duplicate:
        # A provider redelivery (e.g. SNS retrying a MessageId we committed): nothing new.
        return JSONResponse({"alerts": [], "incidents": [], "duplicate": True}, 202)
    for status, count in Counter(alert.status.value for alert in outcome.alerts).items():
        services.metrics.alerts_received.labels(source, status).inc(count)
    if received.answer is not None:
        return received.answer(result)
    return JSONResponse({"alerts": result.alert_ids, "incidents": result.incident_ids}, 202)


def _limit_key(source: str, request: Request) -> str:
    """Whose ingest budget a request spends: its token's, or (signed sources) its source's."""
    credential = credential_of(request)
    return "token:" + hash_token(credential) if credential else "source:" + source
