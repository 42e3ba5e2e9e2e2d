"""Silences: the list (active, pending, recently expired), a form to create one, an Expire
button per silence, and "Mute this system" from an incident page. Team only.

The same rules as `/api/silences` apply, from `app.incidents.silences`: the form is checked as a
`PostableSilence`, listed silences get their state from `silence_state`, and Expire releases held
incidents through `expire_and_release`. Muting goes through the action seam
(`app.incidents.actions`), as the SMS `42m 2h` command does.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import as_utc
from app.core.incident import ActionKind
from app.errors import NotFound
from app.ids import IdPath, strict_id
from app.incidents.actions import IncidentAction
from app.incidents.silences import (
    Matcher,
    PostableSilence,
    create_posted,
    expire_and_release,
    silence_state,
)
from app.incidents.transitions import Who
from app.store.tables import Silence
from app.web.access import Viewer, WebError, services_of, team, team_form
from app.web.render import page

router = APIRouter(include_in_schema=False)
TeamDep = Annotated[Viewer, Depends(team)]

FORM_ROWS = 3  # matcher rows the form shows (it accepts up to MAX_ROWS)
MAX_ROWS = 20
RECENT = timedelta(days=7)  # how long expired silences stay listed
RECENT_LIMIT = 20
DURATIONS = {
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "8h": timedelta(hours=8),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
}
MUTE_DURATIONS = {key: DURATIONS[key] for key in ("1h", "4h", "1d")}
_OPERATORS = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}


@dataclass(frozen=True, slots=True)
class SilenceView:
    """One silence as the page shows it."""

    id: int
    state: str  # active, pending or expired
    matchers: list[str]  # `name=value`, `name!=value`, `name=~regex`, `name!~regex`
    starts_at: datetime
    ends_at: datetime  # the earlier of its end and its expiry
    created_by: str
    comment: str


def view_of(silence: Silence, now: datetime) -> SilenceView:
    """A silence for the page, with its state as `GET /api/silences` gives it."""
    state, ends = silence_state(silence, now)
    return SilenceView(
        id=silence.id,
        state=state,
        matchers=[matcher_text(Matcher.model_validate(m)) for m in silence.matchers["matchers"]],
        starts_at=as_utc(silence.starts_at),
        ends_at=ends,
        created_by=silence.created_by,
        comment=silence.comment,
    )


def matcher_text(matcher: Matcher) -> str:
    """A matcher in Alertmanager's notation: `system="db"`, `service=~"pay.*"`."""
    operator = _OPERATORS[(matcher.isRegex, matcher.isEqual)]
    return f"{matcher.name}{operator}{_quoted(matcher.value)}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _listed(request: Request) -> dict[str, list[SilenceView]]:
    """Active and pending silences, and those that ended within `RECENT`."""
    services = services_of(request)
    now = services.clock.now()
    cutoff = now - RECENT
    query = select(Silence).where(
        Silence.ends_at > cutoff, or_(Silence.expired_at.is_(None), Silence.expired_at > cutoff)
    )
    async with AsyncSession(services.engine) as session:
        views = [view_of(silence, now) for silence in await session.scalars(query)]
    by_state: dict[str, list[SilenceView]] = {"active": [], "pending": [], "expired": []}
    for view in views:
        by_state[view.state].append(view)
    by_state["active"].sort(key=lambda v: (v.ends_at, v.id))
    by_state["pending"].sort(key=lambda v: (v.starts_at, v.id))
    by_state["expired"].sort(key=lambda v: (v.ends_at, v.id), reverse=True)
    by_state["expired"] = by_state["expired"][:RECENT_LIMIT]
    return by_state


async def _page(
    request: Request,
    who: Viewer,
    *,
    form: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    filled = form or {}
    rows = max([FORM_ROWS, *(index + 1 for index in _row_indices(filled))])
    context: dict[str, Any] = {
        "silences": await _listed(request),
        "systems": sorted(services_of(request).rules.holder.rules.systems),
        "durations": list(DURATIONS),
        "rows": range(rows),
        "form": filled,
        "problem": problem,
    }
    return await page(
        request, "silences.html", who, title="Silences", nav="silences", status=status, **context
    )


@router.get("/silences", response_class=HTMLResponse)
async def silences_page(request: Request, who: TeamDep) -> HTMLResponse:
    """Active, pending and recently expired silences, and the form to create one."""
    return await _page(request, who)


@router.post("/silences", response_class=HTMLResponse)
async def create(request: Request) -> Response:
    """Create a silence from the form, by the signed-in engineer."""
    who, form = await team_form(request)
    services = services_of(request)
    now = services.clock.now()
    try:
        body = postable(form, created_by=who.require().subject, now=now)
    except ValueError as exc:
        return await _page(request, who, form=form, problem=str(exc), status=422)
    silence_id = await services.db.transaction(partial(create_posted, body=body, now=now))
    return RedirectResponse(f"/silences#silence-{silence_id}", 303)


@router.post("/silences/{silence_id}/expire")
async def expire(request: Request, silence_id: IdPath) -> Response:
    """End a silence now; the incidents it held page at the next tick."""
    await team_form(request)
    services = services_of(request)
    work = partial(expire_and_release, silence_id=silence_id, now=services.clock.now())
    if not await services.db.transaction(work):
        raise WebError(404, f"There is no silence {silence_id}.")
    services.escalation.kick()
    return RedirectResponse("/silences", 303)


@router.post("/incidents/{incident_id}/mute")
async def mute_incident(request: Request, incident_id: IdPath) -> Response:
    """Silence the incident's system (unrouted: its group labels) for 1 h, 4 h or 1 d."""
    who, form = await team_form(request)
    span = MUTE_DURATIONS.get(form.get("duration", ""))
    if span is None:
        raise WebError(422, f"Mute for {', '.join(MUTE_DURATIONS)}.")
    services = services_of(request)
    action = IncidentAction(ActionKind.MUTE, incident_id, span=span)
    work = services.act(action, Who(who.require().subject, "web"))
    try:
        outcome = await services.db.transaction(work)
    except NotFound:
        raise WebError(404, f"There is no incident {incident_id}.") from None
    if outcome.refused:
        raise WebError(409, outcome.refused)
    services.escalation.kick()
    return RedirectResponse(f"/incidents/{incident_id}#timeline", 303)


def postable(form: dict[str, str], *, created_by: str, now: datetime) -> PostableSilence:
    """The silence a create form describes, checked as `POST /api/silences` checks its body.

    Matcher rows `name-N`, `value-N`, `regex-N`, `negate-N` (rows without a name and a value are
    skipped), the `system` quick field, `starts` (blank: now) and `ends` as UTC `datetime-local`
    values, else `duration` from the start. Raises ValueError with a message for the form.
    """
    matchers: list[dict[str, Any]] = []
    sources: list[str] = []  # where each matcher came from, for error messages
    system = form.get("system", "").strip()
    if system:
        matchers.append({"name": "system", "value": system})
        sources.append("System")
    for index in _row_indices(form):
        name = form.get(f"name-{index}", "").strip()
        value = form.get(f"value-{index}", "")
        if not name and not value:
            continue
        if not name:
            raise ValueError(f"Matcher row {index + 1} has a value but no label name.")
        sources.append(f"Matcher row {index + 1}")
        matchers.append(
            {
                "name": name,
                "value": value,
                "isRegex": bool(form.get(f"regex-{index}")),
                "isEqual": not form.get(f"negate-{index}"),
            }
        )
    if not matchers:
        raise ValueError("Give at least one matcher (or a system).")
    starts = _moment(form.get("starts", "")) or now
    ends = _moment(form.get("ends", ""))
    if ends is None:
        span = DURATIONS.get(form.get("duration", ""))
        if span is None:
            raise ValueError(f"Pick a duration ({', '.join(DURATIONS)}) or an end time.")
        ends = starts + span
    if ends <= now:
        raise ValueError("The end time has passed already.")
    comment = form.get("comment", "").strip()
    if not comment:
        raise ValueError("Say why in the comment.")
    body = {
        "matchers": matchers,
        "startsAt": starts,
        "endsAt": ends,
        "createdBy": created_by,
        "comment": comment,
    }
    try:
        return PostableSilence.model_validate(body)
    except ValidationError as exc:
        raise ValueError(_problem(exc, sources)) from None


def _row_indices(form: dict[str, str]) -> list[int]:
    found = set()
    for key in form:
        prefix, _, number = key.partition("-")
        index = strict_id(number) if prefix in ("name", "value") else None
        if index is not None and index < MAX_ROWS:
            found.add(index)
    return sorted(found)


def _moment(text: str) -> datetime | None:
    """A `datetime-local` field, read as UTC."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a date and time.") from None
    return moment.replace(tzinfo=moment.tzinfo or UTC)


def _problem(exc: ValidationError, sources: list[str]) -> str:
    parts = []
    for error in exc.errors():
        where = error["loc"]
        if len(where) >= 2 and where[0] == "matchers" and isinstance(where[1], int):
            label = sources[where[1]] if where[1] < len(sources) else "Matchers"
        else:
            label = str(where[0]).capitalize() if where else "Silence"
        parts.append(f"{label}: {error['msg']}")
    return "; ".join(parts)
