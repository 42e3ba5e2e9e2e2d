"""`POST /webhooks/{source}`: authenticate, read (bounded), parse, hand to the writer, answer."""

import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.errors import NotFound, TooLarge
from app.ingest.registry import PARSERS
from app.ingest.writer import Submission
from app.services import Services

log = logging.getLogger(__name__)
router = APIRouter()

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


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing (413) past `limit` bytes without holding more than that."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def kept_headers(request: Request) -> dict[str, str]:
    """The audit-worthy headers of a request."""
    return {name: request.headers[name] for name in _KEPT_HEADERS if name in request.headers}


@router.post(
    "/webhooks/{source}",
    status_code=202,
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {}}}}},
)
async def receive_webhook(source: str, request: Request) -> JSONResponse:
    """Store a monitor's alerts; 202 only after they are committed."""
    started = time.perf_counter()
    services: Services = request.app.state.services
    parse = PARSERS.get(source)
    if parse is None:
        raise NotFound(f"unknown source {source!r}", detail={"known": sorted(PARSERS)})
    await services.tokens.require_webhook(request, source)
    body = await read_body(request, services.settings.max_body_bytes)
    outcome = parse(body)
    if outcome.truncated:
        services.metrics.truncated_alerts.inc(outcome.truncated)
    submission = Submission(source, body, kept_headers(request), outcome.alerts)
    result = await services.writer.submit(submission)
    for alert in outcome.alerts:
        services.metrics.alerts_received.labels(source, alert.status.value).inc()
    services.metrics.request_latency.labels(source).observe(time.perf_counter() - started)
    return JSONResponse({"alerts": result.alert_ids, "incidents": result.incident_ids}, 202)
