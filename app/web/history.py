"""History: resolved incidents with filters, their numbers, who gets woken, and a CSV export."""

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import as_utc
from app.core.incident import IncidentState
from app.projection import IncidentView, incident_for
from app.store.tables import Incident, Page
from app.store.tokens import Principal
from app.web import queries
from app.web.access import Viewer, WebError, reader, services_of
from app.web.render import NO_STORE, page
from app.web.stats import figures_by, page_split, seconds_between

router = APIRouter(include_in_schema=False)
ReaderDep = Annotated[Viewer, Depends(reader)]
_LIMIT = 1000
_PAGED_KINDS = ("page", "bundle", "reminder")
_FORMULA_STARTS = frozenset("=+-@\t\r\n")


def _filters(request: Request, now: datetime) -> dict[str, str]:
    params = request.query_params
    default_since = (now - timedelta(days=30)).date().isoformat()
    return {
        "customer": params.get("customer", "")[:200],
        "system": params.get("system", "")[:200],
        "severity": params.get("severity", "")[:16],
        "since": params.get("since", default_since)[:10],
        "until": params.get("until", "")[:10],
    }


def _window(filters: dict[str, str]) -> tuple[datetime, datetime | None]:
    try:
        since = datetime.combine(date.fromisoformat(filters["since"]), time(0), UTC)
        until = filters["until"] and datetime.combine(
            date.fromisoformat(filters["until"]) + timedelta(days=1), time(0), UTC
        )
    except ValueError:
        raise WebError(422, "Dates look like 2026-11-25.") from None
    return since, until or None


async def _resolved(
    session: AsyncSession, principal: Principal, filters: dict[str, str]
) -> list[IncidentView]:
    since, until = _window(filters)
    query = queries.visible(principal).where(
        Incident.state == IncidentState.RESOLVED, Incident.resolved_at >= since
    )
    if until is not None:
        query = query.where(Incident.resolved_at < until)
    for name in ("customer", "system", "severity"):
        if filters[name]:
            query = query.where(getattr(Incident, name) == filters[name])
    found = await session.scalars(query.order_by(Incident.resolved_at.desc()).limit(_LIMIT))
    return [incident_for(incident, principal) for incident in found]


async def _pages(session: AsyncSession, filters: dict[str, str]) -> list[tuple[str, datetime]]:
    since, until = _window(filters)
    query = select(Page.engineer, Page.sent_at).where(
        Page.kind.in_(_PAGED_KINDS), Page.sent_at.is_not(None), Page.sent_at >= since
    )
    if until is not None:
        query = query.where(Page.sent_at < until)
    rows = await session.execute(query)
    return [(engineer, sent_at) for engineer, sent_at in rows if sent_at is not None]


@router.get("/history", response_class=HTMLResponse)
async def history_page(request: Request, who: ReaderDep) -> HTMLResponse:
    """Resolved incidents and their numbers (pages per engineer for the team)."""
    services = services_of(request)
    filters = _filters(request, services.clock.now())
    async with AsyncSession(services.engine) as session:
        incidents = await _resolved(session, who.require(), filters)
        pages = await _pages(session, filters) if who.is_team else []
    context: dict[str, Any] = {
        "filters": filters,
        "incidents": incidents,
        "by_customer": figures_by(incidents, "customer"),
        "by_system": figures_by(incidents, "system"),
        "wakeups": page_split(services.rules.holder.rules, pages),
        "csv_query": str(request.url.query),
    }
    return await page(request, "history.html", who, title="History", nav="history", **context)


@router.get("/history.csv")
async def history_csv(request: Request, who: ReaderDep) -> Response:
    """The filtered resolved incidents as CSV."""
    services = services_of(request)
    filters = _filters(request, services.clock.now())
    async with AsyncSession(services.engine) as session:
        incidents = await _resolved(session, who.require(), filters)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "id",
            "customer",
            "system",
            "severity",
            "summary",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "tta_s",
            "ttr_s",
        ]
    )
    for i in incidents:
        writer.writerow(
            [
                i.id,
                _cell(i.customer),
                _cell(i.system),
                _cell(i.severity),
                _cell(i.summary),
                _iso(i.opened_at),
                _iso(i.acknowledged_at),
                _cell(i.acknowledged_by),
                _iso(i.resolved_at),
                _cell(i.resolved_by),
                _num(seconds_between(i.opened_at, i.acknowledged_at)),
                _num(seconds_between(i.opened_at, i.resolved_at)),
            ]
        )
    headers = NO_STORE | {"Content-Disposition": 'attachment; filename="skillpager-history.csv"'}
    return Response(out.getvalue(), media_type="text/csv", headers=headers)


def _cell(text: str | None) -> str:
    """A text cell a spreadsheet shows as text: OWASP's CSV injection rule, a leading `'`
    before = + - @, tab, CR or LF (Excel and LibreOffice run such a cell as a formula)."""
    if not text:
        return ""
    return "'" + text if text[0] in _FORMULA_STARTS else text


def _iso(moment: datetime | None) -> str:
    # ISO 8601 with its offset, as the API writes times (SQLite hands them back naive).
    return as_utc(moment).isoformat() if moment is not None else ""


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"
