"""`POST /api/incidents/{id}/ack|resolve|escalate|snooze|handover` with an engineer token."""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ServicesDep
from app.api.rules import EngineerDep
from app.errors import Conflict
from app.escalation import service
from app.escalation.service import Actor, Outcome
from app.ids import IdPath
from app.services import Services
from app.store.tokens import Principal

router = APIRouter(prefix="/api/incidents", tags=["actions"])


class ActionBody(BaseModel):
    """Optional details of an action."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
    minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    to: str | None = Field(None, max_length=100)


Details = Annotated[ActionBody | None, Body()]


async def _run(
    services: Services, action: str, incident_id: int, who: Principal, body: ActionBody
) -> dict[str, Any]:
    work = partial(
        service.perform,
        action=action,
        incident_id=incident_id,
        actor=Actor(engineer=who.subject, channel="api"),
        rules=services.rules.holder.rules,
        now=services.clock.now(),
        public_url=services.settings.public_url,
        note=body.note,
        minutes=body.minutes,
        to=body.to or "",
    )
    outcome: Outcome = await services.db.transaction(work)
    if outcome.refused:
        raise Conflict(outcome.refused, detail={"state": outcome.state})
    services.escalation.kick()
    return {"id": outcome.incident_id, "state": outcome.state, "changed": outcome.changed}


@router.post("/{incident_id}/ack")
async def ack(
    incident_id: IdPath, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Acknowledge: paging stops."""
    return await _run(services, "ack", incident_id, who, body or ActionBody())


@router.post("/{incident_id}/resolve")
async def resolve(
    incident_id: IdPath, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Resolve by hand."""
    return await _run(services, "resolve", incident_id, who, body or ActionBody())


@router.post("/{incident_id}/escalate")
async def escalate(
    incident_id: IdPath, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Page the next step now."""
    return await _run(services, "escalate", incident_id, who, body or ActionBody())


@router.post("/{incident_id}/snooze")
async def snooze(
    incident_id: IdPath, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Quiet for `minutes` (default 30), then paged again."""
    return await _run(services, "snooze", incident_id, who, body or ActionBody())


@router.post("/{incident_id}/handover")
async def handover(
    incident_id: IdPath, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Hand over to another engineer (`to`), who is paged now."""
    if body is None or not body.to:
        raise Conflict("say who to hand over to", detail={"field": "to"})
    return await _run(services, "handover", incident_id, who, body)
