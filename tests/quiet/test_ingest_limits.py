"""Ingest limits per token: over the rate, alerts are stored and grouped but open nothing."""

from typing import Any

from app.ingest.limits import IngestLimiter
from tests.support.app import RunningApp, app_settings, post_generic, running_app


def test_bucket_bursts_then_refills() -> None:
    limiter = IngestLimiter(rate_per_s=2)  # a burst of 20
    assert limiter.allow("t", 20, now=0.0)
    assert not limiter.allow("t", 1, now=0.0)
    assert limiter.allow("other", 5, now=0.0)  # every token has its own budget
    assert limiter.allow("t", 2, now=1.0)  # two more a second
    assert not limiter.allow("t", 1, now=1.0)
    assert IngestLimiter(rate_per_s=0).allow("t", 10**6, now=0.0)  # 0 = no limit


async def post(app: RunningApp, alerts: list[dict[str, Any]]) -> Any:
    return await post_generic(app, alerts)


def unrouted(name: str, key: str) -> dict[str, Any]:
    return {
        "summary": name,
        "severity": "critical",
        "dedup_key": key,
        "labels": {"alertname": name},
    }


async def test_over_the_limit_alerts_are_stored_and_only_grouped(sqlite_database: str) -> None:
    settings = app_settings(sqlite_database, ingest_rate_per_token=1)  # a burst of 10
    async with running_app(settings) as app:
        first = await post(app, [unrouted(f"Check{i}", f"k{i}") for i in range(10)])
        assert len(first["incidents"]) == 10
        new_group = await post(app, [unrouted("Fresh", "fresh")])
        assert new_group["incidents"] == []  # stored, no incident opened while over the limit
        [alert_id] = new_group["alerts"]
        stored = await app.client.get(f"/api/alerts/{alert_id}", headers=app.reader_headers())
        assert (stored.json()["status"], stored.json()["incident_id"]) == ("firing", None)
        joined = await post(app, [unrouted("Check0", "k0-again")])
        assert joined["incidents"] == [first["incidents"][0]]  # grouping still works
        metrics = (await app.client.get("/metrics")).text
        assert 'skillpager_alerts_grouping_only_total{source="generic"} 2.0' in metrics
