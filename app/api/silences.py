"""`GET|POST /api/silences`, `DELETE /api/silences/{id}`: silences in Alertmanager's API v2 shape.

A silence matches on the alert's labels plus `monitor`, `severity`, `system` and `customer`.
Matching alerts are stored and shown but page no one; when the silence ends (or is deleted),
incidents still firing page at the next tick.
"""

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import ServicesDep
from app.api.paging import MAX_LIMIT, next_cursor, page
from app.api.rules import EngineerDep
from app.bodies import json_body_openapi, read_json
from app.clock import as_utc
from app.errors import NotFound
from app.ids import IdPath
from app.incidents.silences import Matcher, create_silence, expire_silence, release_silenced
from app.store.tables import Silence

router = APIRouter(prefix="/api/silences", tags=["silences"])


class PostableSilence(BaseModel):
    """Alertmanager's `postableSilence` (an `id`, for updates, is not supported and ignored)."""

    model_config = ConfigDict(extra="ignore")

    matchers: list[Matcher] = Field(min_length=1, max_length=50)
    startsAt: AwareDatetime
    endsAt: AwareDatetime
    createdBy: str = Field(min_length=1, max_length=100)
    comment: str = Field(max_length=2000)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.endsAt <= self.startsAt:
            # A custom error: its context stays JSON (a ValueError's would not serialise).
            raise PydanticCustomError("value_error", "endsAt must be after startsAt")
        return self


def silence_json(silence: Silence, now: datetime) -> dict[str, Any]:
    """A silence as Alertmanager's `gettableSilence`."""
    starts, ends = as_utc(silence.starts_at), as_utc(silence.ends_at)
    if silence.expired_at is not None:
        ends = min(ends, as_utc(silence.expired_at))
    state = "expired" if ends <= now else "pending" if starts > now else "active"
    return {
        "id": silence.id,
        "matchers": silence.matchers["matchers"],
        "startsAt": starts.isoformat(),
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


def create_posted(conn: Connection, *, body: PostableSilence, now: datetime) -> int:
    """Store a silence as posted (API or dashboard form); its id."""
    return create_silence(
        conn,
        matchers=body.matchers,
        starts_at=body.startsAt.astimezone(UTC),
        ends_at=body.endsAt.astimezone(UTC),
        created_by=body.createdBy,
        comment=body.comment,
        now=now,
    )


def expire_and_release(conn: Connection, *, silence_id: int, now: datetime) -> bool:
    """Expire a silence now and make the incidents it held due (the caller kicks the engine);
    False when there is no such silence (an already expired one counts as found)."""
    exists = conn.execute(select(Silence.id).where(Silence.id == silence_id)).first()
    if exists is None:
        return False
    if expire_silence(conn, silence_id, now):
        release_silenced(conn, now)
    return True
