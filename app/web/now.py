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


async def now_context(request: Request, who: Viewer) -> dict[str, Any]:
    """Open incidents by customer (customers without a name last), and the count."""
    services = services_of(request)
    rules = services.rules.holder.rules
    async with AsyncSession(services.engine) as session:
        cards = await queries.open_cards(session, who.require(), rules)
    ordered = sorted(
        cards, key=lambda card: (card.incident.customer is None, card.incident.customer or "")
    )
    groups = [
        (customer, list(items))
        for customer, items in groupby(ordered, key=lambda c: c.incident.customer)
    ]
    return {
        "groups": groups,
        "count": len(cards),
        "back": "/",
        "engineers": sorted(rules.engineers) if who.is_team else [],
    }


@router.get("/", response_class=HTMLResponse)
async def now_page(request: Request, who: ReaderDep) -> HTMLResponse:
    """Open incidents now."""
    context = await now_context(request, who)
    return await page(request, "now.html", who, title="Now", nav="now", **context)


@router.get("/fragments/now", response_class=HTMLResponse)
async def now_fragment(request: Request, who: FragmentDep) -> HTMLResponse:
    """The Now page's incident list alone, for live updates."""
    return live(request, "_now_list.html", who, **await now_context(request, who))
