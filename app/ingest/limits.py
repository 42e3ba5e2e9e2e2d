"""Per-token ingest limits: beyond its rate a source's alerts are still stored (and answered
202) but only grouped into incidents already open, with no routing work per alert."""

import time
from dataclasses import dataclass

# A token may burst this many seconds' worth of its rate before the limit bites.
BURST_SECONDS = 10.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class IngestLimiter:
    """Token buckets keyed by credential (or source); a rate of 0 turns limiting off."""

    def __init__(self, rate_per_s: float) -> None:
        self._rate = rate_per_s
        self._capacity = rate_per_s * BURST_SECONDS
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str, alerts: int, *, now: float | None = None) -> bool:
        """Take `alerts` from `key`'s bucket; False (take nothing) when over the limit."""
        if self._rate <= 0:
            return True
        moment = time.monotonic() if now is None else now
        bucket = self._buckets.setdefault(key, _Bucket(self._capacity, moment))
        bucket.tokens = min(self._capacity, bucket.tokens + (moment - bucket.at) * self._rate)
        bucket.at = moment
        if bucket.tokens < alerts:
            return False
        bucket.tokens -= alerts
        return True
