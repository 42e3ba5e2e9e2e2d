"""`POST /api/incidents/{id}/ack|resolve|escalate|snooze|handover` with an engineer token."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ServicesDep, services_of
from app.api.rules import EngineerDep
from app.bodies import json_body_openapi, read_optional_json
from app.core.incident import ActionKind
from app.errors import Conflict
from app.ids import IdPath
from app.incidents.actions import IncidentAction
from app.incidents.transitions import Who
from app.services import Services
from app.store.tokens import Principal

router = APIRouter(prefix="/api/incidents", tags=["actions"])


class ActionBody(BaseModel):
    """Optional details of an action."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
    minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    to: str | None = Field(None, max_length=100)


async def details(request: Request, _who: EngineerDep) -> ActionBody | None:
    """The optional body, read (bounded) only once the engineer token checked out."""
    return await read_optional_json(
        request, ActionBody, services_of(request).settings.max_form_bytes
    )


# The body is read by `details`, after authentication (a Body() param is read before it).
Details = Annotated[ActionBody | None, Depends(details)]
_BODY = json_body_openapi(ActionBody, required=False)


async def _run(
    services: Services, kind: ActionKind, incident_id: int, who: Principal, body: ActionBody
) -> dict[str, Any]:
    if kind is ActionKind.HANDOVER and not body.to:
        raise Conflict("say who to hand over to", detail={"field": "to"})
    action = IncidentAction(
        kind, incident_id, note=body.note, minutes=body.minutes, to=body.to or ""
    )
    outcome = await services.db.transaction(services.act(action, Who(who.subject, "api")))
    if outcome.refused:
        raise Conflict(outcome.refused, detail={"state": outcome.state})
    services.escalation.kick()
    return {"id": outcome.incident_id, "state": outcome.state, "changed": outcome.changed}


# One route an action, each with what it does (the OpenAPI summary and description).
_ROUTES = {
    ActionKind.ACK: "Acknowledge: paging stops.",
    ActionKind.RESOLVE: "Resolve by hand.",
    ActionKind.ESCALATE: "Page the next step now.",
    ActionKind.SNOOZE: "Quiet for `minutes` (default 30), then paged again.",
    ActionKind.HANDOVER: "Hand over to another engineer (`to`), who is paged now.",
}


def _route(kind: ActionKind, does: str) -> None:
    async def act(
        incident_id: IdPath, services: ServicesDep, who: EngineerDep, body: Details
    ) -> dict[str, Any]:
        return await _run(services, kind, incident_id, who, body or ActionBody())

    act.__doc__ = does
    router.add_api_route(
        f"/{{incident_id}}/{kind.value}",
        act,
        methods=["POST"],
        name=kind.value,
        openapi_extra=_BODY,
    )


for _kind, _does in _ROUTES.items():
    _route(_kind, _does)
