"""The long-lived parts one app instance shares, reachable from requests as app.state.services."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import Clock
from app.config import Settings
from app.ingest.writer import Writer
from app.metrics import Metrics
from app.web.auth import TokenCache


@dataclass(slots=True)
class Services:
    """Settings, clock, database, writer, token cache and metrics of one running app."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    writer: Writer
    tokens: TokenCache
    metrics: Metrics
