"""Run the real app in-process (lifespan included) and talk to it over ASGI."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.clock import Clock, FrozenClock, SystemClock
from app.config import Settings
from app.main import create_app
from app.services import Services
from app.store.tokens import TokenKind, create_token

WEBHOOK_TOKEN = "test-webhook-token"
FIXTURES = Path(__file__).parent.parent / "fixtures"
BASIC_RULES = FIXTURES / "rules_basic"


@dataclass
class RunningApp:
    """An app with its services and a client carrying an engineer token."""

    app: FastAPI
    services: Services
    client: httpx.AsyncClient
    engineer_token: str

    def webhook_headers(self) -> dict[str, str]:
        """Headers that authenticate a webhook post."""
        return {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}

    def reader_headers(self) -> dict[str, str]:
        """Headers that authenticate an engineer's API read."""
        return {"Authorization": f"Bearer {self.engineer_token}"}

    async def token(self, kind: TokenKind, subject: str) -> str:
        """Create another token."""
        async with self.services.engine.begin() as conn:
            _, token = await create_token(
                conn, kind=kind, subject=subject, now=self.services.clock.now()
            )
        return token


def app_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test app."""
    values: dict[str, object] = {
        "database_url": database_url,
        "webhook_token": WEBHOOK_TOKEN,
        "public_url": "http://testserver",
        "db_timeout_s": 5.0,
        "log_format": "text",
        "rules_dir": BASIC_RULES,
        # Tests drive the engine themselves (kicks and `cycle()`), not by the clock.
        "tick_interval_s": 3600.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]  # values of many types, pydantic checks them


@asynccontextmanager
async def running_app(settings: Settings, clock: Clock | None = None) -> AsyncIterator[RunningApp]:
    """Start the app's lifespan and yield a client bound to it."""
    app = create_app(settings, clock=clock or SystemClock())
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        async with services.engine.begin() as conn:
            _, token = await create_token(
                conn, kind=TokenKind.ENGINEER, subject="anna", now=services.clock.now()
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield RunningApp(app, services, client, token)


async def post_generic(app: RunningApp, body: object) -> Any:
    """POST `body` to /webhooks/generic with the webhook token; the 202 answer's JSON."""
    response = await app.client.post(
        "/webhooks/generic", content=json.dumps(body), headers=app.webhook_headers()
    )
    assert response.status_code == 202, response.text
    return response.json()


async def fire_critical(
    app: RunningApp,
    key: str,
    labels: dict[str, str],
    *,
    summary: str | None = None,
    settle: bool = True,
) -> int:
    """Post one critical generic alert (dedup key `key`); the incident it opened or joined.

    With `settle` it returns once the engine is done with it (its first pages sent); without,
    right after the 202, with the express lane still paging.
    """
    return await _fire(app, key, summary or f"{key} is down", labels, settle=settle)


async def fire_service(app: RunningApp, service: str, key: str, **labels: str) -> int:
    """`fire_critical` for an alert of `service` (label and summary name it), settled."""
    return await _fire(app, key, f"{service} down", {"service": service, **labels}, settle=True)


async def _fire(
    app: RunningApp, key: str, summary: str, labels: dict[str, str], *, settle: bool
) -> int:
    body = {"summary": summary, "severity": "critical", "dedup_key": key, "labels": labels}
    answer = await post_generic(app, body)
    if settle:
        await app.services.escalation.settle()
    incident_id: int = answer["incidents"][0]
    return incident_id


async def incident_pages(app: RunningApp, incident_id: int) -> list[dict[str, Any]]:
    """The incident's page rows as the API shows them, oldest first."""
    pages: list[dict[str, Any]] = (await incident_detail(app, incident_id))["pages"]
    return pages


async def incident_detail(app: RunningApp, incident_id: int) -> dict[str, Any]:
    """`GET /api/incidents/{id}` as an engineer: the incident with alerts, timeline, pages."""
    response = await app.client.get(f"/api/incidents/{incident_id}", headers=app.reader_headers())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def advance(app: RunningApp, clock: FrozenClock, seconds: float) -> None:
    """Move the clock on by `seconds` and run one engine cycle."""
    clock.advance(timedelta(seconds=seconds))
    await app.services.escalation.cycle()


async def run_minutes(app: RunningApp, clock: FrozenClock, minutes: int) -> None:
    """Move the clock a minute at a time, running an engine cycle after each."""
    for _ in range(minutes):
        await advance(app, clock, 60)
