"""Watching the watcher: ping an external dead-man's switch while our engine is alive.

If skillpager dies, nothing inside it can page anyone; a service such as Healthchecks.io or
Dead Man's Snitch pages when our pings stop. A ping goes out only while the engine's cycles are
completing (`alive()`), so a wedged process falls silent too. Errors are logged, never raised.
"""

import asyncio
import logging
from collections.abc import Callable

import httpx

log = logging.getLogger(__name__)


class OutboundPinger:
    """Every `every_s` seconds, GET or POST `url` (with a timeout) if `alive()` says so."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        method: str = "GET",
        every_s: float = 60.0,
        timeout_s: float = 10.0,
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        self._client = client
        self._url = url
        self._method = method
        self._every_s = every_s
        self._timeout_s = timeout_s
        self._alive = alive
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start pinging on the running loop."""
        self._task = asyncio.create_task(self._run(), name="skillpager-outbound-heartbeat")

    async def stop(self) -> None:
        """Stop pinging."""
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def ping(self) -> bool:
        """One ping; True when the receiver answered 2xx/3xx (failures are logged)."""
        if not self._alive():
            log.warning("outbound heartbeat skipped: the engine has not completed a cycle lately")
            return False
        try:
            response = await self._client.request(self._method, self._url, timeout=self._timeout_s)
        except httpx.HTTPError as exc:
            log.warning("outbound heartbeat failed: %s", type(exc).__name__)
            return False
        if response.is_error:
            log.warning("outbound heartbeat answered HTTP %d", response.status_code)
            return False
        return True

    async def _run(self) -> None:
        while True:
            try:
                await self.ping()
            except Exception:  # loop boundary: a bad ping must not stop the next one
                log.exception("outbound heartbeat failed unexpectedly")
            await asyncio.sleep(self._every_s)
