"""`POST /api/incidents/{id}/ack|resolve|escalate|snooze|handover` with an engineer token."""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from app.api.deps import ServicesDep
from app.api.rules import EngineerDep
from app.errors import Conflict
from app.escalation import service
from app.escalation.service import Actor, Outcome
from app.services import Services

router = APIRouter(prefix="/api/incidents", tags=["actions"])


class ActionBody(BaseModel):
    """Optional details of an action."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
    minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    to: str | None = Field(None, max_length=100)


Details = Annotated[ActionBody | None, Body()]


async def _run(services: Services, work: Any) -> dict[str, Any]:
    outcome: Outcome = await services.db.transaction(work)
    if outcome.refused:
        raise Conflict(outcome.refused, detail={"state": outcome.state})
    services.escalation.kick()
    return {"id": outcome.incident_id, "state": outcome.state, "changed": outcome.changed}


def _actor(who: Any) -> Actor:
    return Actor(engineer=who.subject, channel="api")


@router.post("/{incident_id}/ack")
async def ack(
    incident_id: int, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Acknowledge: paging stops."""
    note = body.note if body else None
    work = partial(_ack, incident_id=incident_id, actor=_actor(who), services=services, note=note)
    return await _run(services, work)


@router.post("/{incident_id}/resolve")
async def resolve(
    incident_id: int, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Resolve by hand."""
    note = body.note if body else None
    work = partial(
        _resolve, incident_id=incident_id, actor=_actor(who), services=services, note=note
    )
    return await _run(services, work)


@router.post("/{incident_id}/escalate")
async def escalate(
    incident_id: int, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Page the next step now."""
    now = services.clock.now()
    note = body.note if body else None
    return await _run(
        services,
        partial(service.escalate, incident_id=incident_id, actor=_actor(who), now=now, note=note),
    )


@router.post("/{incident_id}/snooze")
async def snooze(
    incident_id: int, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Quiet for `minutes` (default 30), then paged again."""
    details = body or ActionBody()
    now = services.clock.now()
    work = partial(
        service.snooze,
        incident_id=incident_id,
        actor=_actor(who),
        minutes=details.minutes,
        now=now,
        note=details.note,
    )
    return await _run(services, work)


@router.post("/{incident_id}/handover")
async def handover(
    incident_id: int, services: ServicesDep, who: EngineerDep, body: Details = None
) -> dict[str, Any]:
    """Hand over to another engineer (`to`), who is paged now."""
    if body is None or not body.to:
        raise Conflict("say who to hand over to", detail={"field": "to"})
    work = partial(
        _hand_over,
        incident_id=incident_id,
        actor=_actor(who),
        services=services,
        to=body.to,
        note=body.note,
    )
    return await _run(services, work)


def _ack(
    conn: Connection, *, incident_id: int, actor: Actor, services: Services, note: str | None
) -> Outcome:
    return service.acknowledge(
        conn,
        incident_id,
        actor=actor,
        rules=services.rules.holder.rules,
        now=services.clock.now(),
        note=note,
    )


def _resolve(
    conn: Connection, *, incident_id: int, actor: Actor, services: Services, note: str | None
) -> Outcome:
    return service.resolve(
        conn,
        incident_id,
        actor=actor,
        rules=services.rules.holder.rules,
        now=services.clock.now(),
        public_url=services.settings.public_url,
        note=note,
    )


def _hand_over(
    conn: Connection,
    *,
    incident_id: int,
    actor: Actor,
    services: Services,
    to: str,
    note: str | None,
) -> Outcome:
    return service.hand_over(
        conn,
        incident_id,
        actor=actor,
        to=to,
        rules=services.rules.holder.rules,
        now=services.clock.now(),
        public_url=services.settings.public_url,
        note=note,
    )
