"""What the heartbeat tests share: their start time, rules and fixtures, and small API helpers."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.clock import FrozenClock
from tests.support.app import RunningApp

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
HERE = Path(__file__).parent
RULES = HERE / "fixtures" / "rules"


async def cycle_at(app: RunningApp, clock: FrozenClock, after: timedelta) -> None:
    """Move the clock to START + `after` and run one engine cycle."""
    clock.set(START + after)
    await app.services.escalation.cycle()
    await app.services.escalation.settle()


async def incidents(app: RunningApp, **query: str) -> list[dict[str, Any]]:
    """Incidents from the API, oldest first."""
    response = await app.client.get("/api/incidents", params=query, headers=app.reader_headers())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return sorted(items, key=lambda item: item["id"])


async def beat(app: RunningApp, name: str, token: str | None = None) -> Any:
    """POST a beat with the test webhook token (or `token`)."""
    headers = {"Authorization": f"Bearer {token}"} if token else app.webhook_headers()
    response = await app.client.post(f"/heartbeats/{name}", headers=headers)
    await app.services.escalation.settle()
    return response
