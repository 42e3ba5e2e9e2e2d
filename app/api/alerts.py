"""`GET /api/alerts` and `GET /api/alerts/{id}`: the stored alerts, newest first."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import projection
from app.api.deps import ReaderDep, ServicesDep
from app.api.paging import MAX_LIMIT, next_cursor, page
from app.clock import as_utc
from app.errors import NotFound
from app.ids import IdPath
from app.store import search
from app.store.tables import Alert, AlertRawEvent, Incident, RawEvent
from app.store.tokens import Principal, TokenKind

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


def iso(value: Any) -> str | None:
    """ISO 8601 UTC text of a stored time, or None."""
    return as_utc(value).isoformat() if value is not None else None


def alert_json(alert: Alert, principal: Principal) -> dict[str, Any]:
    """The API shape of an alert row, as projected for `principal` (no runbook for customers)."""
    body = {
        "id": alert.id,
        "source": alert.source,
        "dedup_key": alert.dedup_key,
        "status": alert.status,
        "severity": alert.severity,
        "severity_note": alert.severity_note,
        "summary": alert.summary,
        "labels": alert.labels,
        "started_at": iso(alert.started_at),
        "ended_at": iso(alert.ended_at),
        "first_seen_at": iso(alert.first_seen_at),
        "last_seen_at": iso(alert.last_seen_at),
        "count": alert.count,
        "source_url": alert.source_url,
        "runbook_url": alert.runbook_url,
        "incident_id": alert.incident_id,
    }
    return projection.alert_fields(body, principal)


def visible_alerts(principal: Principal) -> Select[Alert]:
    """Alerts this principal may see: all for engineers, their incidents' for customers."""
    query = select(Alert)
    if principal.kind == TokenKind.CUSTOMER:
        query = query.join(Incident, Alert.incident_id == Incident.id).where(
            Incident.customer == principal.subject
        )
    return query


@router.get("")
async def list_alerts(
    services: ServicesDep,
    principal: ReaderDep,
    status: Annotated[str | None, Query(pattern="^(firing|resolved)$")] = None,
    severity: Annotated[str | None, Query(pattern="^(critical|warning|info)$")] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    """List alerts, newest first, filtered by status, severity, source and text."""
    query = visible_alerts(principal)
    if status:
        query = query.where(Alert.status == status)
    if severity:
        query = query.where(Alert.severity == severity)
    if source:
        query = query.where(Alert.source == source)
    # The firing rows are few and have an index of their own: scanning them for the text beats
    # walking the text index's many resolved candidates in search of the firing ones.
    indexed = services.engine.dialect.name == "sqlite" and status != "firing"
    parts = search.searches(query, q, indexed=indexed) if q else [(query, Alert.id)]
    alerts = await _newest(services.engine, parts, cursor=cursor, limit=limit)
    return {
        "items": [alert_json(alert, principal) for alert in alerts[:limit]],
        "next": next_cursor([a.id for a in alerts], limit),
    }


async def _newest(
    engine: AsyncEngine, parts: list[tuple[Select[Any], Any]], *, cursor: str | None, limit: int
) -> list[Alert]:
    # The first limit + 1 of the parts' alerts together, newest first (a row in two parts once).
    found: dict[int, Alert] = {}
    async with AsyncSession(engine) as session:
        for statement, id_column in parts:
            paged = page(statement, id_column, cursor=cursor, limit=limit)
            found.update((alert.id, alert) for alert in await session.scalars(paged))
    return sorted(found.values(), key=lambda alert: alert.id, reverse=True)[: limit + 1]


@router.get("/{alert_id}")
async def get_alert(
    alert_id: IdPath, services: ServicesDep, principal: ReaderDep
) -> dict[str, Any]:
    """One alert, with the raw events that touched it (team only)."""
    async with AsyncSession(services.engine) as session:
        alert = await session.scalar(visible_alerts(principal).where(Alert.id == alert_id))
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        body = alert_json(alert, principal)
        if projection.sees_everything(principal):
            events = await session.scalars(
                select(RawEvent)
                .join(AlertRawEvent, AlertRawEvent.raw_event_id == RawEvent.id)
                .where(AlertRawEvent.alert_id == alert_id)
                .order_by(RawEvent.id)
            )
            body["raw_events"] = [_raw_json(event) for event in events]
    return body


def _raw_json(event: RawEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "source": event.source,
        "received_at": iso(event.received_at),
        "headers": event.headers,
        "body": event.body.decode("utf-8", errors="replace"),
    }
