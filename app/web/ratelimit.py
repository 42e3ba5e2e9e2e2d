"""Small in-process limits for sign-in: a sliding-window limiter and an exponential backoff."""

import time
from collections import deque
from collections.abc import Callable


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


class Backoff:
    """Per key, after `free` failures in a row each further one doubles the wait before the next
    try (`base_s`, twice that, four times, … up to `cap_s`); a success, or `forget_after_s`
    without a failure, forgets the key.

    Unlike a lockout, the wait stays short: a stranger's wrong guesses delay the engineer by
    at most `cap_s`, while guessing stays far too slow to find a code.
    """

    def __init__(
        self,
        *,
        free: int,
        base_s: float,
        cap_s: float,
        forget_after_s: float = 15 * 60,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free
        self._base_s = base_s
        self._cap_s = cap_s
        self._forget_after_s = forget_after_s
        self._max_keys = max_keys
        self._clock = clock
        self._state: dict[str, tuple[int, float]] = {}  # key → (failures, next try allowed at)

    def wait_s(self, key: str) -> float:
        """Seconds until `key` may try again (0 when it may try now)."""
        _failures, allowed_at = self._state.get(key, (0, 0.0))
        return max(0.0, allowed_at - self._clock())

    def failed(self, key: str) -> None:
        """Count a failure for `key`."""
        if key not in self._state and len(self._state) >= self._max_keys:
            self._forget_idle()
        now = self._clock()
        failures, allowed_at = self._state.get(key, (0, now))
        if now - allowed_at > self._forget_after_s:
            failures = 0
        failures += 1
        over = failures - self._free
        delay = 0.0 if over < 0 else min(self._cap_s, self._base_s * 2**over)
        self._state[key] = (failures, now + delay)

    def succeeded(self, key: str) -> None:
        """Forget `key`'s failures."""
        self._state.pop(key, None)

    def _forget_idle(self) -> None:
        cutoff = self._clock() - self._forget_after_s
        for key in [k for k, (_f, at) in self._state.items() if at < cutoff]:
            del self._state[key]
        if len(self._state) >= self._max_keys:
            self._state.clear()
