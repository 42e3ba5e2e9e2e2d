"""Keeps the skills map current: polls RULES_DIR, reloads on SIGHUP and on request.

A broken edit is refused with its `file:line` list (logged, shown on /readyz and in the reload
answer) and the last good map stays in force.
"""

import asyncio
import contextlib
import logging
import signal

from app.metrics import Metrics
from app.routing.holder import ReloadResult, RulesHolder

log = logging.getLogger(__name__)


class RulesWatcher:
    """Reloads a RulesHolder when its files change, and reports each result."""

    def __init__(self, holder: RulesHolder, metrics: Metrics, *, poll_s: float = 2.0) -> None:
        self.holder = holder
        self._poll_s = poll_s
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self._published = holder.version
        metrics.rules_version.labels(holder.version).set(1)

    def reload(self) -> ReloadResult:
        """Reload now; log and count the result."""
        result = self.holder.reload()
        self._metrics.rules_reload.labels("ok" if result.ok else "error").inc()
        if result.ok:
            log.info("skills map reloaded", extra={"rules_version": result.version[:12]})
            self._publish(self.holder.version)
        else:
            log.error(
                "skills map refused; the last good map stays in force:\n%s",
                "\n".join(result.errors),
                extra={"rules_version": self.holder.version[:12]},
            )
        return result

    def _publish(self, version: str) -> None:
        if version != self._published:
            with contextlib.suppress(KeyError):
                self._metrics.rules_version.remove(self._published)
            self._metrics.rules_version.labels(version).set(1)
            self._published = version

    def start(self) -> None:
        """Poll the directory, and reload on SIGHUP where the platform allows it."""
        self._task = asyncio.create_task(self._poll(), name="skillpager-rules-watch")
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)

    async def stop(self) -> None:
        """Stop polling and release SIGHUP."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                if self.holder.changed():
                    self.reload()
            except Exception:
                log.exception("rules watch failed; will retry")
