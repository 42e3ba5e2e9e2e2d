"""The long-lived parts one app instance shares, reachable from requests as app.state.services."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import httpx
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import TokenCache
from app.clock import Clock
from app.config import Settings
from app.escalation.engine import EscalationEngine
from app.heartbeats.watch import Watch
from app.incidents.actions import ActionContext, IncidentAction, Outcome, perform
from app.incidents.transitions import Who
from app.ingest.limits import IngestLimiter
from app.ingest.sns_certs import SnsCertStore
from app.ingest.writer import Writer
from app.metrics import Metrics
from app.paging.base import Channel
from app.paging.outcomes import PageReports
from app.rules_watch import RulesWatcher
from app.store.database import Database


@dataclass(slots=True)
class Services:
    """Settings, clock, database, writer, token cache, rules and metrics of one running app."""

    settings: Settings
    clock: Clock
    db: Database
    engine: AsyncEngine  # db.engine, for reads
    writer: Writer
    tokens: TokenCache
    metrics: Metrics
    rules: RulesWatcher
    # Outbound HTTP for provider calls we make ourselves (SNS confirmations, certificates).
    http: httpx.AsyncClient
    sns_certs: SnsCertStore
    channels: dict[str, Channel]
    ingest_limits: IngestLimiter
    escalation: EscalationEngine
    heartbeats: Watch
    # What the sender and Twilio's status callbacks tell the incidents about their pages.
    page_reports: PageReports

    def act(self, action: IncidentAction, who: Who) -> Callable[[Connection], Outcome]:
        """The unit of work of one action on an incident, with the rules in force now."""
        context = ActionContext(self.rules.holder.rules, self.clock.now(), self.settings.public_url)
        return partial(perform, action=action, who=who, context=context)
