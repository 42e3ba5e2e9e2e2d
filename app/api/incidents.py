"""`GET /api/incidents` and `GET /api/incidents/{id}`: incidents with alerts and timeline."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import projection
from app.api.alerts import alert_json, iso
from app.api.deps import ReaderDep, ServicesDep
from app.api.paging import MAX_LIMIT, next_cursor, page
from app.clock import as_utc
from app.errors import NotFound
from app.ids import IdPath
from app.projection import IncidentView
from app.store import change_events
from app.store.tables import Alert, Incident, Page
from app.store.tokens import Principal

router = APIRouter(prefix="/api/incidents", tags=["incidents"])


def visible_incidents(principal: Principal) -> Select[Incident]:
    """Incidents this principal may see: all for engineers, their own for a customer."""
    return projection.visible_incidents(principal)


def incident_json(view: IncidentView, principal: Principal) -> dict[str, Any]:
    """The API shape of an incident as projected for `principal` (app/projection.py)."""
    holds, storm = view.flags.holds, view.flags.storm
    body: dict[str, Any] = {
        "id": view.id,
        "state": view.state,
        "system": view.system,
        "customer": view.customer,
        "severity": view.severity,
        "summary": view.summary,
        "unrouted": view.unrouted,
        "alert_count": view.alert_count,
        "opened_at": iso(view.opened_at),
        "acknowledged_at": iso(view.acknowledged_at),
        "acknowledged_by": view.acknowledged_by,
        "resolved_at": iso(view.resolved_at),
        "resolved_by": view.resolved_by,
        "next_action_at": iso(view.next_action_at),
        "exhausted": view.flags.marks.exhausted,
        "storm": storm.storm,
        "suppressed": holds.suppressed,
        # Why it is quiet, and what arrived (storm control): see app/incidents/model.py.
        "suppressed_by": holds.suppressed_by,
        "silenced_until": iso(holds.silenced_until),
        "maintenance_until": iso(holds.maintenance_until),
        "flapping": holds.flapping,
        "storm_rate": storm.peak_rate or None,
        "events": storm.events,
        "distinct_keys": storm.keys,
        "recent_summaries": list(storm.recent),
    }
    if projection.sees_everything(principal):
        body["decision"] = view.decision
        body["rules_version"] = view.rules_version
    return body


@router.get("")
async def list_incidents(
    services: ServicesDep,
    principal: ReaderDep,
    state: Annotated[
        str | None, Query(pattern="^(triggered|acknowledged|snoozed|resolved)$")
    ] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    system: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    """List incidents, newest first, filtered by state, customer and system."""
    query = visible_incidents(principal)
    if state:
        query = query.where(Incident.state == state)
    if customer:
        query = query.where(Incident.customer == customer)
    if system:
        query = query.where(Incident.system == system)
    async with AsyncSession(services.engine) as session:
        found = list(await session.scalars(page(query, Incident.id, cursor=cursor, limit=limit)))
    return {
        "items": [
            incident_json(projection.incident_for(incident, principal), principal)
            for incident in found[:limit]
        ],
        "next": next_cursor([incident.id for incident in found], limit),
    }


@router.get("/{incident_id}")
async def get_incident(
    incident_id: IdPath, services: ServicesDep, principal: ReaderDep
) -> dict[str, Any]:
    """One incident with its alerts and its timeline."""
    async with AsyncSession(services.engine) as session:
        incident = await session.scalar(
            visible_incidents(principal).where(Incident.id == incident_id)
        )
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        alerts = await session.scalars(
            select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)
        )
        rows = await session.execute(projection.timeline_query(incident_id, principal))
        body = incident_json(projection.incident_for(incident, principal), principal)
        body["alerts"] = [alert_json(alert, principal) for alert in alerts]
        body["timeline"] = [
            {
                "at": entry.at.isoformat(),
                "kind": entry.kind,
                "actor": entry.actor,
                "channel": entry.channel,
                "note": entry.text,
            }
            for entry in projection.entries(rows, principal)
        ]
        body["changes"] = await _changes(session, incident, principal)
        if projection.sees_everything(principal):
            pages = await session.scalars(
                select(Page).where(Page.incident_id == incident_id).order_by(Page.id)
            )
            body["pages"] = [page_json(page) for page in pages]
    return body


async def _changes(
    session: AsyncSession, incident: Incident, principal: Principal
) -> list[dict[str, Any]]:
    """The change events of the incident's system around its opening (none when unrouted)."""
    if incident.system is None:
        return []
    found = await session.scalars(change_events.near(incident.system, as_utc(incident.opened_at)))
    return [
        projection.change_fields(
            {
                "at": iso(change.at),
                "summary": change.summary,
                "source": change.source,
                "links": change.links,
            },
            principal,
        )
        for change in found
    ]


def page_json(page: Page) -> dict[str, Any]:
    """A page as the team sees it on an incident (the address is masked)."""
    return {
        "id": page.id,
        "engineer": page.engineer,
        "channel": page.channel,
        "kind": page.kind,
        "cycle": page.cycle,
        "step": page.step,
        "round": page.round,
        "status": page.status,
        "attempts": page.attempts,
        "text": page.text,
        "created_at": iso(page.created_at),
        "sent_at": iso(page.sent_at),
        "sent_by": page.claimed_by,
        "delivered_at": iso(page.delivered_at),
        "last_error": page.last_error,
    }
