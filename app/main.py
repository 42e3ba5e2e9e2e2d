"""The FastAPI app: `create_app(settings)` wires the store, writer and routers together."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI, Request

from app.api import (
    actions,
    alertmanager_api,
    alerts,
    heartbeats,
    incidents,
    ops,
    rules,
    silences,
    slack,
    twilio,
    webhooks,
)
from app.api.errors import declare_error_answers, install_error_handlers
from app.asgi import SkillpagerApp
from app.auth import TokenCache
from app.clock import Clock, SystemClock
from app.config import Settings
from app.escalation.engine import EscalationEngine
from app.heartbeats.watch import Watch
from app.incidents.desk import IncidentDesk
from app.incidents.page_reports import IncidentPageReports
from app.ingest.limits import IngestLimiter
from app.ingest.sns_certs import SnsCertStore
from app.ingest.writer import Writer
from app.metrics import Metrics
from app.paging.channels import build_channels
from app.paging.sender import Sender
from app.paging.throttle import SmsThrottle
from app.routing.holder import RulesHolder
from app.rules_watch import RulesWatcher
from app.services import Services
from app.store.database import Database
from app.store.migrate import schema_is_current
from app.store.rejections import RejectionLog
from app.store.retention import Retention
from app.web.site import install as install_dashboard

log = logging.getLogger(__name__)


class SchemaBehind(RuntimeError):
    """The database schema is older than the code."""


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the app; the database and writer start in the lifespan."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await _start(settings, clock or SystemClock(), metrics)
        app.state.services = services
        rejections.start(services.db)
        services.rules.start()
        keep = timedelta(days=settings.retention_days)
        retention = Retention(services.db, clock=services.clock, keep=keep)
        retention.start()
        try:
            yield
        finally:
            await rejections.stop()
            await retention.stop()
            await services.rules.stop()
            await services.heartbeats.stop()
            await services.escalation.stop()
            await services.writer.stop()
            for channel in services.channels.values():
                await channel.aclose()
            await services.http.aclose()
            await services.db.dispose()

    app = SkillpagerApp(title="skillpager", version="0.1.0", lifespan=lifespan)
    app.body_limit = settings.max_body_bytes

    rejections = RejectionLog(clock or SystemClock())

    def on_reject(request: Request, reason: str, status: int, detail: str) -> None:
        metrics.rejected.labels(reason).inc()
        # The path without its query (`?token=` may be there); the detail is the answer's.
        source = request.client.host if request.client else "unknown"
        method, path = request.method, request.url.path
        log.info(
            "request rejected: %s %s from %s: %d %s: %s",
            method,
            path,
            source,
            status,
            reason,
            detail,
            extra={
                "reason": reason,
                "method": method,
                "path": path,
                "client": source,
                "status": status,
                "detail": detail,
            },
        )
        rejections.record(method, path, source, status, reason, detail)

    app.state.rejections = rejections  # flushed by the lifespan; tests may flush it at once
    install_error_handlers(app, on_reject)
    declare_error_answers(app)
    routers = (
        webhooks,
        alerts,
        incidents,
        actions,
        rules,
        silences,
        twilio,
        slack,
        ops,
        heartbeats,
        alertmanager_api,
    )
    for module in routers:
        app.include_router(module.router)
    install_dashboard(app, settings)
    return app


async def _start(settings: Settings, clock: Clock, metrics: Metrics) -> Services:
    watcher = RulesWatcher(
        RulesHolder(settings.rules_dir, clock=clock), metrics, poll_s=settings.rules_poll_s
    )
    db = Database(settings.database_url, busy_timeout_s=settings.db_timeout_s)
    engine = db.engine
    if not await schema_is_current(engine, settings.database_url):
        await db.dispose()
        raise SchemaBehind("the database schema is behind: run `skillpager migrate`")
    if settings.is_sqlite:
        log.info("store: SQLite; run only one skillpager process on this file")
    channels = build_channels(settings)
    page_reports = IncidentPageReports()
    sender = Sender(
        db,
        channels,
        clock=clock,
        rules=watcher.holder,
        throttle=SmsThrottle(settings.sms_interval, settings.sms_per_15min),
        reports=page_reports,
        failpoint=settings.active_failpoint(),
    )
    http = httpx.AsyncClient(timeout=10, follow_redirects=False)
    writer = Writer(
        db,
        clock=clock,
        metrics=metrics,
        timeout_s=settings.db_timeout_s,
        incident_hook=IncidentDesk(watcher.holder, public_url=settings.public_url),
        on_incidents_opened=lambda opened: escalation.kick(opened),
    )
    heartbeats = Watch(settings, db, writer, watcher.holder, clock=clock, http=http)
    escalation = EscalationEngine(
        db,
        sender,
        watcher.holder,
        clock=clock,
        public_url=settings.public_url,
        cycles_total=metrics.engine_cycles,
        interval_s=settings.tick_interval_s,
        stale_sending=timedelta(seconds=settings.sending_stale_s),
        on_cycle=heartbeats.check,
    )
    writer.start()
    escalation.start()
    heartbeats.start()
    webhook_token = settings.webhook_token.get_secret_value() if settings.webhook_token else None
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        engine=engine,
        writer=writer,
        tokens=TokenCache(
            engine, webhook_token=webhook_token, engineers=lambda: watcher.holder.rules.engineers
        ),
        metrics=metrics,
        rules=watcher,
        http=http,
        sns_certs=SnsCertStore(certs_dir=settings.sns_certs_dir, client=http),
        channels=channels,
        ingest_limits=IngestLimiter(settings.ingest_rate_per_token),
        escalation=escalation,
        heartbeats=heartbeats,
        page_reports=page_reports,
    )
