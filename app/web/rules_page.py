"""Rules: the skills map in force (read-only), its version and last reload, a dry-run form,
and the newest rejected requests (which monitor is misconfigured)."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from app.ingest.base import ParseError, SchemaError
from app.ingest.registry import PARSERS, parser_for
from app.routing.decision import route
from app.store.rejections import newest_rejections
from app.web.access import Viewer, WebError, services_of, team, team_form
from app.web.render import page

router = APIRouter(include_in_schema=False)
TeamDep = Annotated[Viewer, Depends(team)]
EXAMPLE = (
    '{"summary": "replica lag 47s", "severity": "critical",\n'
    ' "labels": {"service": "payments-db", "customer": "acme"}}'
)


def _context(request: Request) -> dict[str, Any]:
    holder = services_of(request).rules.holder
    return {
        "rules": holder.rules,
        "version": holder.version,
        "last": holder.last_result,
        "sources": sorted(PARSERS),
        "payload": EXAMPLE,
        "source": "generic",
        "at": "",
        "decisions": None,
        "problem": None,
        "rejected": None,
    }


@router.get("/rules", response_class=HTMLResponse)
async def rules_page(request: Request, who: TeamDep) -> HTMLResponse:
    """The skills map, the dry-run form and the newest rejected requests."""
    async with services_of(request).engine.connect() as conn:
        rejected = await conn.run_sync(lambda sync: newest_rejections(sync, 50))
    context = _context(request) | {"rejected": rejected[::-1]}
    return await page(request, "rules.html", who, title="Rules", nav="rules", **context)


@router.post("/rules/dry-run", response_class=HTMLResponse)
async def dry_run(request: Request) -> HTMLResponse:
    """Who would be paged for a pasted payload at a chosen time, and why (nothing is stored)."""
    services = services_of(request)
    # A pasted payload may be as large as a webhook's.
    who, form = await team_form(request, limit=services.settings.max_body_bytes)
    context = _context(request) | {
        "payload": form.get("payload", ""),
        "source": form.get("source", "generic"),
        "at": form.get("at", ""),
    }
    parse = parser_for(context["source"])
    if parse is None:
        raise WebError(422, f"Unknown source {context['source']!r}.")
    try:
        moment = _moment(context["at"]) or services.clock.now()
        alerts = parse(context["payload"].encode())
    except (ParseError, SchemaError, ValueError) as exc:
        context["problem"] = str(exc)
        return await page(
            request, "rules.html", who, title="Rules", nav="rules", status=422, **context
        )
    rules = services.rules.holder.rules
    context["decisions"] = [route(rules, alert, moment) for alert in alerts]
    context["moment"] = moment
    return await page(request, "rules.html", who, title="Rules", nav="rules", **context)


def _moment(text: str) -> datetime | None:
    """A `datetime-local` field, read as UTC."""
    if not text.strip():
        return None
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=moment.tzinfo or UTC)
