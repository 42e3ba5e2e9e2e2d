"""Alertmanager's API v2 in-process: alerts posted the way Prometheus posts them (re-sent,
resolved, expired), listed the way amtool and karma read them; silences at Alertmanager's paths."""

import base64
from datetime import timedelta
from typing import Any

from app.api.alertmanager_api import EXPIRED_KEPT, MAX_ALERTS
from app.clock import FrozenClock
from app.ingest.postable import fingerprint
from app.store.tokens import TokenKind
from tests.quiet.helpers import QUIET_RULES, START, detail, paged, run_minutes
from tests.support.app import RunningApp, app_settings, running_app

LABELS = {"alertname": "ReplicaLag", "service": "db", "severity": "critical"}
KEY = f"alertmanager:{fingerprint(LABELS)}"


def postable(**fields: Any) -> list[dict[str, Any]]:
    return [{"labels": LABELS, "annotations": {"summary": "replica lag"}, **fields}]


async def post(app: RunningApp, alerts: list[dict[str, Any]]) -> None:
    response = await app.client.post("/api/v2/alerts", json=alerts, headers=app.webhook_headers())
    assert (response.status_code, response.content) == (200, b""), response.text
    await app.services.escalation.settle()


async def rows(app: RunningApp) -> list[dict[str, Any]]:
    response = await app.client.get("/api/alerts", headers=app.reader_headers())
    return [row for row in response.json()["items"] if row["dedup_key"] == KEY]


async def test_posted_alerts_need_a_webhook_token(app: RunningApp) -> None:
    assert (await app.client.post("/api/v2/alerts", json=postable())).status_code == 401
    too_large = b"[" + b" " * app.services.settings.max_body_bytes + b"]"
    # The token is checked before the body is read: an anonymous caller is never read.
    assert (await app.client.post("/api/v2/alerts", content=too_large)).status_code == 401
    oversized = await app.client.post(
        "/api/v2/alerts", content=too_large, headers=app.webhook_headers()
    )
    assert oversized.status_code == 413
    engineer = await app.client.post(
        "/api/v2/alerts", json=postable(), headers=app.reader_headers()
    )
    assert engineer.status_code == 403
    scoped = await app.token(TokenKind.WEBHOOK, "alertmanager")
    other = await app.token(TokenKind.WEBHOOK, "generic")
    for token, status in ((other, 403), (scoped, 200)):
        basic = {"Authorization": "Basic " + _basic("prometheus", token)}
        answer = await app.client.post("/api/v2/alerts", json=postable(), headers=basic)
        assert answer.status_code == status
    malformed = await app.client.post(
        "/api/v2/alerts", json=[{"labels": {}}], headers=app.webhook_headers()
    )
    assert (malformed.status_code, malformed.json()["detail"]["field"]) == (422, "[0].labels")


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_resends_are_one_firing_cycle_and_a_past_ends_at_resolves(
    app: RunningApp, clock: FrozenClock
) -> None:
    await post(
        app, postable(startsAt=START.isoformat(), endsAt=(START + timedelta(minutes=4)).isoformat())
    )
    [row] = await rows(app)
    assert (row["status"], row["summary"], row["severity"]) == ("firing", "replica lag", "critical")
    assert await paged(app, row["incident_id"]) == ["bo"]
    for _ in range(3):  # Prometheus re-sends every minute, its endsAt 4 minutes ahead
        await run_minutes(app, clock, 1)
        await post(
            app,
            postable(
                startsAt=START.isoformat(), endsAt=(clock.now() + timedelta(minutes=4)).isoformat()
            ),
        )
    [row] = await rows(app)
    assert (row["status"], row["count"]) == ("firing", 4)
    ended = clock.now() - timedelta(seconds=1)
    await post(app, postable(startsAt=START.isoformat(), endsAt=ended.isoformat()))
    [row] = await rows(app)
    assert (row["status"], row["ended_at"]) == ("resolved", ended.isoformat())
    assert (await detail(app, row["incident_id"]))["state"] == "resolved"


async def test_an_alert_not_sent_again_resolves_at_its_ends_at_after_a_restart(
    sqlite_database: str,
) -> None:
    clock = FrozenClock(START)
    settings = app_settings(sqlite_database, rules_dir=QUIET_RULES)
    ends = START + timedelta(minutes=4)
    async with running_app(settings, clock) as app:
        await post(app, postable(endsAt=ends.isoformat()))
        await run_minutes(app, clock, 3)
        [row] = await rows(app)
        assert row["status"] == "firing"
    clock.advance(timedelta(minutes=2))  # down past its endsAt
    async with running_app(settings, clock) as app:
        await app.services.escalation.cycle()
        [row] = await rows(app)
        assert (row["status"], row["ended_at"]) == ("resolved", ends.isoformat())
        found = await detail(app, row["incident_id"])
        assert found["state"] == "resolved"
        raw = (
            await app.client.get(f"/api/alerts/{row['id']}", headers=app.reader_headers())
        ).json()
        assert '"receiver": "skillpager-expiry"' in raw["raw_events"][-1]["body"]
        await app.services.escalation.cycle()
        assert len(await rows(app)) == 1  # resolved once, nothing more expires


def silence(**fields: Any) -> dict[str, Any]:
    return {
        "matchers": [
            {"name": "alertname", "value": "ReplicaLag", "isRegex": False, "isEqual": True}
        ],
        "startsAt": START.isoformat(),
        "endsAt": (START + timedelta(hours=1)).isoformat(),
        "createdBy": "anna",
        "comment": "failover drill",
        **fields,
    }


async def v2(app: RunningApp, method: str, path: str, **kwargs: Any) -> Any:
    response = await app.client.request(
        method, f"/api/v2{path}", headers=app.reader_headers(), **kwargs
    )
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


async def test_silences_and_alerts_in_alertmanagers_shapes(
    app: RunningApp, clock: FrozenClock
) -> None:
    assert await v2(app, "POST", "/silences", json=silence()) == {"silenceID": "1"}
    [listed] = await v2(app, "GET", "/silences")
    assert (listed["id"], listed["status"]) == ("1", {"state": "active"})
    assert await v2(app, "GET", "/silence/1") == listed
    assert await v2(app, "GET", "/silences", params={"filter": 'alertname="Other"'}) == []

    await post(app, postable())
    [alert] = await v2(
        app, "GET", "/alerts", params={"filter": ['alertname="ReplicaLag"', "service=~d.*"]}
    )
    assert alert["fingerprint"] == fingerprint(LABELS)
    assert alert["labels"] == {
        **LABELS,
        "monitor": "alertmanager",
        "system": "db",
        "customer": "acme",
    }
    assert alert["annotations"] == {"summary": "replica lag"}
    assert alert["status"] == {"state": "suppressed", "silencedBy": ["1"], "inhibitedBy": []}
    assert alert["endsAt"] == (START + timedelta(minutes=5)).isoformat()  # the resolve timeout
    assert alert["receivers"] == [{"name": "skillpager"}]
    assert await v2(app, "GET", "/alerts", params={"silenced": "false"}) == []
    assert await v2(app, "GET", "/alerts", params={"filter": 'alertname!~"Rep.*"'}) == []
    assert await v2(app, "GET", "/alerts", params={"receiver": "nobody"}) == []
    [row] = await rows(app)
    assert await paged(app, row["incident_id"]) == []

    assert await v2(app, "DELETE", "/silence/1") is None
    assert await paged(app, row["incident_id"]) == ["bo"]
    [expired] = await v2(app, "GET", "/silences")
    assert expired["status"]["state"] == "expired"
    [active] = await v2(app, "GET", "/alerts")
    assert active["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}


async def test_a_posted_id_replaces_that_silence(app: RunningApp) -> None:
    assert await v2(app, "POST", "/silences", json=silence()) == {"silenceID": "1"}
    replaced = silence(id="1", comment="longer", endsAt=(START + timedelta(hours=2)).isoformat())
    assert await v2(app, "POST", "/silences", json=replaced) == {"silenceID": "2"}
    states = {
        s["id"]: (s["status"]["state"], s["comment"]) for s in await v2(app, "GET", "/silences")
    }
    assert states == {"1": ("expired", "failover drill"), "2": ("active", "longer")}


async def test_unknown_silences_bad_filters_and_who_may_ask(app: RunningApp) -> None:
    headers = app.reader_headers()
    for path in (
        "/api/v2/silence/7",
        "/api/v2/silence/not-an-id",
        "/api/v2/silence/99999999999999999999",
    ):
        assert (await app.client.get(path, headers=headers)).status_code == 404
        assert (await app.client.delete(path, headers=headers)).status_code == 404
    unknown = await app.client.post("/api/v2/silences", json=silence(id="7"), headers=headers)
    assert unknown.status_code == 404
    bad = await app.client.get("/api/v2/alerts", params={"filter": "no matcher"}, headers=headers)
    assert (bad.status_code, bad.json()["detail"][0]["loc"]) == (422, ["query", "filter"])
    bad_regex = await app.client.get("/api/v2/alerts", params={"receiver": "("}, headers=headers)
    assert bad_regex.status_code == 422
    for path in ("/api/v2/alerts", "/api/v2/silences", "/api/v2/status"):
        assert (await app.client.get(path)).status_code == 401
        assert (await app.client.get(path, headers=app.webhook_headers())).status_code == 403


async def test_status_is_enough_for_amtool_and_grafana(app: RunningApp) -> None:
    status = await v2(app, "GET", "/status")
    assert status["cluster"] == {"name": "skillpager", "peers": [], "status": "disabled"}
    assert "receiver: skillpager" in status["config"]["original"]
    assert set(status["versionInfo"]) == {
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    }
    assert status["uptime"]


async def test_the_lists_are_bounded(app: RunningApp, clock: FrozenClock) -> None:
    # Alertmanager's API has no paging: a storm lists its newest MAX_ALERTS firing alerts.
    storm = [{"labels": {"alertname": "Storm", "n": str(n)}} for n in range(MAX_ALERTS + 1)]
    for start in range(0, len(storm), 2000):
        await post(app, storm[start : start + 2000])
    listed = await v2(app, "GET", "/alerts")
    assert len(listed) == MAX_ALERTS
    assert {alert["labels"]["n"] for alert in listed} == {str(n) for n in range(1, MAX_ALERTS + 1)}

    # An expired silence is listed as long as Alertmanager keeps one, then no longer.
    await v2(app, "POST", "/silences", json=silence())
    assert await v2(app, "DELETE", "/silence/1") is None
    clock.advance(EXPIRED_KEPT - timedelta(minutes=1))
    [expired] = await v2(app, "GET", "/silences")
    assert expired["status"]["state"] == "expired"
    clock.advance(timedelta(minutes=2))
    assert await v2(app, "GET", "/silences") == []
    assert await v2(app, "GET", "/silence/1") == expired  # still found by its id
