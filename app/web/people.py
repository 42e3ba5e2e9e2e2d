"""People: who is reachable per skill, open incidents, channel health, away toggle, test pages,
"sign out everywhere", and the coverage gaps of the next seven days."""

from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.paging.outbox import enqueue
from app.paging.requests import channels_for, contact_checks
from app.routing.coverage import coverage
from app.routing.rules import Rules
from app.store import engineer_states
from app.store.tables import EngineerState
from app.store.web_sessions import live_engineer_sessions, revoke_engineer_sessions
from app.web import queries
from app.web.access import Viewer, WebError, services_of, team, team_form
from app.web.people_view import by_skill, people
from app.web.render import page

router = APIRouter(include_in_schema=False)
TeamDep = Annotated[Viewer, Depends(team)]
AWAY_CHOICES = {"0": None, "4": 4, "12": 12, "24": 24, "72": 72, "168": 168}


@router.get("/people", response_class=HTMLResponse)
async def people_page(request: Request, who: TeamDep) -> HTMLResponse:
    """Reachability per skill and per engineer, and coverage gaps ahead."""
    services = services_of(request)
    rules, now = services.rules.holder.rules, services.clock.now()
    async with AsyncSession(services.engine) as session:
        cards = await queries.open_cards(session, who.require(), rules)
        states = {s.engineer: s for s in await session.scalars(select(EngineerState))}
        signed_in = await live_engineer_sessions(await session.connection(), now)
    everyone = people(rules, now, states, cards)
    report = coverage(rules, now, 7)
    context: dict[str, Any] = {
        "people": everyone,
        "skills": by_skill(rules, everyone),
        "coverage": report,
        "gaps": [s for s in report.systems if s.nobody_present or s.nobody_in_hours],
        "away_choices": [c for c in AWAY_CHOICES if c != "0"],
        "signed_in": signed_in,
    }
    return await page(request, "people.html", who, title="People", nav="people", **context)


@router.post("/people/{engineer}/away")
async def set_away(request: Request, engineer: str) -> Response:
    """Mark an engineer away for some hours (0: back now)."""
    _who, form = await team_form(request)
    services = services_of(request)
    _known(services.rules.holder.rules, engineer)
    choice = form.get("hours", "0")
    if choice not in AWAY_CHOICES:
        raise WebError(422, "Pick how long to be away.")
    hours = AWAY_CHOICES[choice]
    now = services.clock.now()
    until = None if hours is None else now + timedelta(hours=hours)
    work = partial(engineer_states.set_state, engineer=engineer, now=now, away_until=until)
    await services.db.transaction(work)
    return RedirectResponse(f"/people#person-{engineer}", 303)


@router.post("/people/{engineer}/test-page")
async def test_page(request: Request, engineer: str) -> Response:
    """Send a harmless test page on each of the engineer's channels, through the outbox."""
    await team_form(request)
    services = services_of(request)
    rules = services.rules.holder.rules
    _known(rules, engineer)
    person = rules.engineers[engineer]
    checks = contact_checks(engineer, person, channels_for(person, ()))
    if not checks:
        raise WebError(409, f"{engineer} has no contact to test.")
    now = services.clock.now()
    await services.db.transaction(lambda conn: enqueue(conn, checks, now=now))
    services.escalation.kick()
    return RedirectResponse(f"/people#person-{engineer}", 303)


@router.post("/people/{engineer}/signout-everywhere")
async def sign_out_everywhere(request: Request, engineer: str) -> Response:
    """End every dashboard session of one engineer (a lost phone, a shared laptop).

    Any engineer may do this for any engineer, as with the other actions on this page: the
    team acts for each other at 3 a.m. Tokens stay valid; `skillpager token revoke` ends those.
    """
    who, _form = await team_form(request)
    services = services_of(request)
    _known(services.rules.holder.rules, engineer)
    work = partial(revoke_engineer_sessions, engineer=engineer, now=services.clock.now())
    await services.db.transaction(work)
    if who.require().subject == engineer:
        return RedirectResponse("/signin", 303)
    return RedirectResponse(f"/people#person-{engineer}", 303)


def _known(rules: Rules, engineer: str) -> None:
    if engineer not in rules.engineers:
        raise WebError(404, f"No engineer {engineer!r} in the skills map.")
