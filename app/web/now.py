"""The Now page (`GET /`): open incidents grouped by customer, refreshed by a small fragment."""

from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.web import queries
from app.web.access import Viewer, fragment_reader, reader, services_of
from app.web.render import live, page

router = APIRouter(include_in_schema=False)
ReaderDep = Annotated[Viewer, Depends(reader)]
FragmentDep = Annotated[Viewer, Depends(fragment_reader)]
# The most urgent open incidents get a full card with buttons; past this many the rest get one
# line each (severity, state, summary, age), linking to their page. 300 full cards made a 770 kB
# page that took over 100 ms to render, and the live fragment re-sends it every 3 seconds; a
# card still costs about twice a line.
FULL_CARDS = 50


async def now_context(request: Request, who: Viewer) -> dict[str, Any]:
    """Open incidents by customer (customers without a name last): full cards, then lines."""
    services = services_of(request)
    rules = services.rules.holder.rules
    async with AsyncSession(services.engine) as session:
        cards = await queries.open_cards(session, who.require(), rules, paged_for=FULL_CARDS)
    full = {card.incident.id for card in cards[:FULL_CARDS]}
    # A stable sort: within a customer the most urgent come first, so its full cards do too.
    ordered = sorted(
        cards, key=lambda card: (card.incident.customer is None, card.incident.customer or "")
    )
    groups = []
    for customer, items in groupby(ordered, key=lambda c: c.incident.customer):
        listed = list(items)
        groups.append(
            (
                customer,
                [card for card in listed if card.incident.id in full],
                [card for card in listed if card.incident.id not in full],
            )
        )
    return {
        "groups": groups,
        "count": len(cards),
        "full_cards": FULL_CARDS,
        "back": "/",
        "engineers": sorted(rules.engineers) if who.is_team else [],
    }


@router.get("/", response_class=HTMLResponse)
async def now_page(request: Request, who: ReaderDep) -> HTMLResponse:
    """Open incidents now."""
    context = await now_context(request, who)
    return await page(
        request, "now.html", who, title="Now", nav="now", open_count=context["count"], **context
    )


@router.get("/fragments/now", response_class=HTMLResponse)
async def now_fragment(request: Request, who: FragmentDep) -> HTMLResponse:
    """The Now page's incident list alone, for live updates."""
    return live(request, "_now_list.html", who, **await now_context(request, who))
