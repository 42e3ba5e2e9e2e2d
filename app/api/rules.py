"""`POST /api/route` (dry-run a payload) and `POST /api/rules/reload`."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep, services_of
from app.bodies import read_body
from app.errors import AppError, Forbidden, NotFound
from app.ingest.registry import parser_for
from app.routing.decision import route
from app.store.tokens import Principal, TokenKind

router = APIRouter(prefix="/api", tags=["rules"])


class RulesRejected(AppError):
    """A reload found errors; the last good map stays in force."""

    status, reason = 422, "rules_rejected"


async def engineer(request: Request) -> Principal:
    """A team member's token (customers may not dry-run or reload)."""
    principal = await services_of(request).tokens.require_reader(request)
    if principal.kind != TokenKind.ENGINEER:
        raise Forbidden("this needs an engineer token")
    return principal


EngineerDep = Annotated[Principal, Depends(engineer)]


@router.post(
    "/route",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {}}}}},
)
async def dry_run(
    request: Request,
    services: ServicesDep,
    _who: EngineerDep,
    source: Annotated[str, Query(max_length=32)] = "generic",
    at: Annotated[datetime | None, Query()] = None,
) -> JSONResponse:
    """Route a payload in any source's format without storing it: who would be paged, and why."""
    parse = parser_for(source)
    if parse is None:
        raise NotFound(f"unknown source {source!r}")
    body = await read_body(request, services.settings.max_body_bytes)
    moment = services.clock.now() if at is None else at.replace(tzinfo=at.tzinfo or UTC)
    rules = services.rules.holder.rules
    decisions = [route(rules, alert, moment).to_json() for alert in parse(body)]
    return JSONResponse(decisions[0] if len(decisions) == 1 else decisions)


@router.post("/rules/reload")
async def reload_rules(services: ServicesDep, _who: EngineerDep) -> dict[str, Any]:
    """Reload the skills map now; a broken map is refused with its `file:line` list."""
    result = services.rules.reload()
    if not result.ok:
        raise RulesRejected(
            "the skills map has errors; the last good map stays in force",
            detail={"errors": list(result.errors), "version": services.rules.holder.version},
        )
    return {"ok": True, "version": result.version}
