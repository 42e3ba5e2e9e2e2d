"""`GET|POST /api/silences`, `DELETE /api/silences/{id}`: silences in Alertmanager's API v2 shape.

A silence matches on the alert's labels plus `monitor`, `severity`, `system` and `customer`.
Matching alerts are stored and shown but page no one; when the silence ends (or is deleted),
incidents still firing page at the next tick.
"""

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import ServicesDep
from app.api.paging import MAX_LIMIT, next_cursor, page
from app.api.rules import EngineerDep
from app.bodies import json_body_openapi, read_json
from app.clock import as_utc
from app.errors import NotFound
from app.ids import IdPath
from app.incidents.silences import (
    PostableSilence,
    create_posted,
    expire_and_release,
    silence_state,
)
from app.store.tables import Silence

router = APIRouter(prefix="/api/silences", tags=["silences"])


def silence_json(silence: Silence, now: datetime) -> dict[str, Any]:
    """A silence as Alertmanager's `gettableSilence`."""
    state, ends = silence_state(silence, now)
    return {
        "id": silence.id,
        "matchers": silence.matchers["matchers"],
        "startsAt": as_utc(silence.starts_at).isoformat(),
        "endsAt": ends.isoformat(),
        "updatedAt": as_utc(silence.expired_at or silence.created_at).isoformat(),
        "createdBy": silence.created_by,
        "comment": silence.comment,
        "status": {"state": state},
    }


@router.post("", openapi_extra=json_body_openapi(PostableSilence))
async def post_silence(
    request: Request, services: ServicesDep, _who: EngineerDep
) -> dict[str, Any]:
    """Create a silence; answers `{"silenceID": id}`."""
    # Read here, after the token checked out (a model param would be read before it).
    body = await read_json(request, PostableSilence, services.settings.max_form_bytes)
    now = services.clock.now()
    silence_id = await services.db.transaction(partial(create_posted, body=body, now=now))
    return {"silenceID": silence_id}


@router.get("")
async def list_silences(
    services: ServicesDep,
    _who: EngineerDep,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    """Silences, newest first, each with its state: active, pending or expired."""
    query = page(select(Silence), Silence.id, cursor=cursor, limit=limit)
    async with AsyncSession(services.engine) as session:
        found = list(await session.scalars(query))
    now = services.clock.now()
    return {
        "items": [silence_json(silence, now) for silence in found[:limit]],
        "next": next_cursor([silence.id for silence in found], limit),
    }


@router.delete("/{silence_id}")
async def delete_silence(
    silence_id: IdPath, services: ServicesDep, _who: EngineerDep
) -> dict[str, Any]:
    """Expire a silence now; incidents it held page at the next tick."""
    now = services.clock.now()
    found = await services.db.transaction(
        partial(expire_and_release, silence_id=silence_id, now=now)
    )
    if not found:
        raise NotFound(f"no silence {silence_id}")
    services.escalation.kick()
    return {"silenceID": silence_id, "status": {"state": "expired"}}
