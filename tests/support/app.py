"""Run the real app in-process (lifespan included) and talk to it over ASGI."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from app.clock import Clock, SystemClock
from app.config import Settings
from app.main import create_app
from app.services import Services
from app.store.tokens import TokenKind, create_token

WEBHOOK_TOKEN = "test-webhook-token"
BASIC_RULES = Path(__file__).parent.parent / "fixtures" / "rules_basic"


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
    return Settings(**values)  # type: ignore[arg-type]


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
