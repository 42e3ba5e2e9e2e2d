"""The heartbeat parts of one running app, started and stopped together by the lifespan: late
heartbeats, provider health, expired Alertmanager alerts, the outbound ping."""

import logging
import time
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import httpx

from app.clock import Clock
from app.config import Settings
from app.heartbeats.expiry import AlertExpiry
from app.heartbeats.monitor import HeartbeatMonitor, RulesSource
from app.heartbeats.outbound import OutboundPinger
from app.heartbeats.providers import ProviderWatcher
from app.heartbeats.sink import AlertSink
from app.store.database import Database

log = logging.getLogger(__name__)
# The outbound ping stops when no cycle completed for this many tick intervals (or 30 s).
_STALE_TICKS = 5
_STALE_MIN_S = 30.0


class Watch:
    """Heartbeat monitor, provider watcher, alert expiry and outbound pinger; `check` runs once
    per cycle."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        sink: AlertSink,
        rules: RulesSource,
        *,
        clock: Clock,
        http: httpx.AsyncClient,
    ) -> None:
        self.monitor = HeartbeatMonitor(db, sink, rules, clock=clock)
        self.providers = ProviderWatcher(db, sink)
        self.expiry = AlertExpiry(db, sink)
        self._stale_s = max(settings.tick_interval_s * _STALE_TICKS, _STALE_MIN_S)
        self._checked_at: float | None = None
        self.pinger: OutboundPinger | None = None
        if settings.outbound_heartbeat_url:
            self.pinger = OutboundPinger(
                http,
                url=settings.outbound_heartbeat_url,
                method=settings.outbound_heartbeat_method,
                every_s=settings.outbound_heartbeat_every_s,
                alive=self.alive,
            )

    def start(self) -> None:
        """Start the outbound pinger, if configured."""
        if self.pinger is not None:
            self.pinger.start()

    async def stop(self) -> None:
        """Stop the outbound pinger."""
        if self.pinger is not None:
            await self.pinger.stop()

    def alive(self) -> bool:
        """True when a cycle's checks (which read the database) completed lately."""
        checked = self._checked_at
        return checked is not None and time.monotonic() - checked < self._stale_s

    async def check(self, now: datetime) -> None:
        """Late heartbeats, provider health and expired alerts, each isolated so one failing
        spares the tick."""
        beats = await _guarded("heartbeats", self.monitor.check(now))
        providers = await _guarded("providers", self.providers.check(now))
        expiry = await _guarded("alert expiry", self.expiry.check(now))
        if beats and providers and expiry:
            self._checked_at = time.monotonic()


async def _guarded(name: str, check: Coroutine[Any, Any, None]) -> bool:
    try:
        await check
    except Exception:  # loop boundary: log, let the tick run, retry next cycle
        log.exception("%s check failed; retrying on the next cycle", name)
        return False
    return True
