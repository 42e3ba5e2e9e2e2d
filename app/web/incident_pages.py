"""The incident page (`/incidents/{id}`, `/i/{id}` from SMS), its live part, actions and notes.

The page shows its alerts a page of groups at a time and no raw payload: those are fetched
one at a time (`/incidents/{id}/raw`, team only), so one incident of 20,000 alerts stays a small
page. The live fragment is the state and timeline alone.
"""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.ids import MAX_ID, IdPath
from app.incidents.actions import Visibility, add_note
from app.incidents.transitions import Who
from app.web import queries
from app.web.access import (
    Viewer,
    WebError,
    fragment_reader,
    reader,
    services_of,
    team,
    team_form,
)
from app.web.actions import unit_of_work
from app.web.render import live, page
from app.web.signin import safe_next

router = APIRouter(include_in_schema=False)
ReaderDep = Annotated[Viewer, Depends(reader)]
FragmentDep = Annotated[Viewer, Depends(fragment_reader)]
TeamDep = Annotated[Viewer, Depends(team)]


async def _context(request: Request, who: Viewer, incident_id: int) -> dict[str, Any]:
    services = services_of(request)
    rules = services.rules.holder.rules
    async with AsyncSession(services.engine) as session:
        found = await queries.detail(session, who.require(), incident_id, rules)
        count = await queries.open_count(session, who.require())
    if found is None:
        raise WebError(404, f"There is no incident {incident_id} for you to see.")
    return {
        "d": found,
        "count": count,
        "back": f"/incidents/{incident_id}",
        "engineers": sorted(rules.engineers) if who.is_team else [],
    }


@router.get("/i/{incident_id}")
async def short_link(incident_id: IdPath) -> RedirectResponse:
    """The short link in SMS pages."""
    return RedirectResponse(f"/incidents/{incident_id}", 303)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(
    request: Request,
    incident_id: IdPath,
    who: ReaderDep,
    groups: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> HTMLResponse:
    """One incident: state, timeline, routing explanation, alert groups (from `groups`)."""
    context = await _context(request, who, incident_id)
    async with AsyncSession(services_of(request).engine) as session:
        context["alerts"] = await queries.alert_groups(session, incident_id, offset=groups)
    title = f"#{incident_id} {context['d'].card.incident.summary[:60]}"
    return await page(
        request,
        "incident.html",
        who,
        title=title,
        nav="now",
        open_count=context["count"],
        **context,
    )


@router.get("/incidents/{incident_id}/fragment", response_class=HTMLResponse)
async def incident_fragment(
    request: Request, incident_id: IdPath, who: FragmentDep
) -> HTMLResponse:
    """The incident's state and timeline alone, for live updates."""
    return live(request, "_incident_live.html", who, **await _context(request, who, incident_id))


@router.get("/incidents/{incident_id}/raw", response_class=HTMLResponse)
async def raw_page(
    request: Request,
    incident_id: IdPath,
    who: TeamDep,
    alert: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    at: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """One raw payload of the incident (or of one `alert`), newest first from `at`, cut at
    RAW_SHOWN_BYTES; the team only."""
    async with AsyncSession(services_of(request).engine) as session:
        if await queries.find(session, who.require(), incident_id) is None:
            raise WebError(404, f"There is no incident {incident_id}.")
        shown = await queries.raw_payload(session, incident_id, alert_id=alert, at_or_before=at)
    return await page(
        request,
        "raw.html",
        who,
        title=f"#{incident_id} raw payload",
        nav="now",
        incident_id=incident_id,
        alert=alert,
        raw=shown,
        cap=queries.RAW_SHOWN_BYTES,
    )


@router.post("/incidents/{incident_id}/notes")
async def post_note(request: Request, incident_id: IdPath) -> Response:
    """Add an internal or shared note."""
    who, form = await team_form(request)
    text = form.get("text", "").strip()
    if not text:
        raise WebError(422, "A note needs some text.")
    try:
        visibility = Visibility(form.get("visibility", "internal"))
    except ValueError:
        raise WebError(422, "Visibility is internal or shared.") from None
    services = services_of(request)
    work = partial(
        add_note,
        incident_id=incident_id,
        who=Who(who.require().subject, "web"),
        text=text,
        visibility=visibility.value,
        now=services.clock.now(),
    )
    await _run(services.db.transaction(work), incident_id)
    return RedirectResponse(f"/incidents/{incident_id}#timeline", 303)


@router.post("/incidents/{incident_id}/{action}")
async def act(request: Request, incident_id: IdPath, action: str) -> Response:
    """Ack, resolve, escalate, snooze or hand over from a button."""
    who, form = await team_form(request)
    services = services_of(request)
    work = unit_of_work(services, action, incident_id, who.require().subject, form)
    outcome = await _run(services.db.transaction(work), incident_id)
    if outcome.refused:
        raise WebError(409, outcome.refused)
    services.escalation.kick()
    return RedirectResponse(safe_next(form.get("next") or f"/incidents/{incident_id}"), 303)


async def _run(pending: Any, incident_id: int) -> Any:
    try:
        return await pending
    except NotFound:
        raise WebError(404, f"There is no incident {incident_id}.") from None
