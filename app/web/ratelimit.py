"""A small in-process sliding-window limiter for sign-in attempts (per client and per person)."""

import time
from collections import deque


class RateLimiter:
    """At most `limit` hits per key within `window_s` seconds."""

    def __init__(self, limit: int, window_s: float, *, max_keys: int = 10_000) -> None:
        self._limit = limit
        self._window_s = window_s
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count a hit for `key`; False when it is over the limit (the hit is not counted)."""
        now = time.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and now - hits[0] > self._window_s:
            hits.popleft()
        if len(hits) >= self._limit:
            return False
        hits.append(now)
        return True

    def _forget_idle(self, now: float) -> None:
        idle = [
            key for key, hits in self._hits.items() if not hits or now - hits[-1] > self._window_s
        ]
        for key in idle:
            del self._hits[key]
        if len(self._hits) >= self._max_keys:
            self._hits.clear()  # under a flood, forgetting beats growing without bound
