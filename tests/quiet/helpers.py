"""Helpers the quiet-hours tests share: post alerts, read incidents and pages, move time."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.clock import FrozenClock
from app.store.tables import Page, RawEvent
from tests.support.app import RunningApp, incident_detail, post_generic

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Stockholm
QUIET_RULES = Path(__file__).parent / "rules_quiet"


async def send(app: RunningApp, service: str, key: str, status: str = "firing") -> Any:
    """Post one generic alert of `service`; the 202 body (without waiting for the engine)."""
    body = {
        "summary": f"{service} {key} {status}",
        "severity": "critical",
        "dedup_key": key,
        "status": status,
        "labels": {"service": service},
    }
    return await post_generic(app, body)


async def fire(app: RunningApp, service: str, key: str, status: str = "firing") -> int | None:
    """Post one alert, let the engine settle; the incident id it landed on (if any)."""
    answer = await send(app, service, key, status)
    await app.services.escalation.settle()
    return answer["incidents"][0] if answer["incidents"] else None


async def detail(app: RunningApp, incident_id: int) -> dict[str, Any]:
    """GET /api/incidents/{id} as an engineer."""
    await app.services.escalation.settle()
    return await incident_detail(app, incident_id)


async def paged(app: RunningApp, incident_id: int) -> list[str]:
    """Engineers paged for an incident, in order (page rows, any status)."""
    return [p["engineer"] for p in (await detail(app, incident_id))["pages"] if p["kind"] == "page"]


async def run_minutes(app: RunningApp, clock: FrozenClock, minutes: int) -> None:
    """Move the clock a minute at a time, running an engine cycle after each."""
    for _ in range(minutes):
        clock.advance(timedelta(minutes=1))
        await app.services.escalation.cycle()


async def count_rows(app: RunningApp, table: type[Page] | type[RawEvent]) -> int:
    """Rows in `table`."""
    async with app.services.engine.connect() as conn:
        found: int = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
    return found


def kinds(found: dict[str, Any]) -> list[str]:
    """The incident's timeline kinds."""
    return [event["kind"] for event in found["timeline"]]
