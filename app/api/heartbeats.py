"""`POST /heartbeats/{name}`: a monitor or cron job says it is alive (webhook token)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.heartbeats.specs import SOURCE
from app.services import Services

router = APIRouter(tags=["heartbeats"])


@router.post("/heartbeats/{name}")
async def receive_beat(name: str, request: Request) -> JSONResponse:
    """Record a beat; a late heartbeat's incident resolves. Token for `heartbeat` or `all`."""
    services: Services = request.app.state.services
    await services.tokens.require_webhook(request, SOURCE)
    beat = await services.heartbeats.monitor.beat(name)
    return JSONResponse(
        {
            "heartbeat": beat.spec.name,
            "system": beat.spec.system,
            "resolved": beat.resolved,
            "due_at": beat.due_at.isoformat(),
        }
    )
