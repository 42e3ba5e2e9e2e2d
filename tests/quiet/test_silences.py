"""`/api/silences` in Alertmanager's API v2 shape: silenced alerts are stored and shown, never
paged; at the silence's end (or its DELETE) incidents still firing page at the next tick."""

from datetime import datetime, timedelta
from typing import Any

from app.clock import FrozenClock
from app.store.tokens import TokenKind
from tests.quiet.helpers import START, detail, fire, kinds, paged, run_minutes
from tests.support.app import RunningApp


def silence_body(
    *matchers: dict[str, Any], starts: datetime = START, hours: float = 1
) -> dict[str, Any]:
    return {
        "matchers": list(matchers),
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(hours=hours)).isoformat(),
        "createdBy": "anna",
        "comment": "failover drill",
    }


def matcher(name: str, value: str, *, regex: bool = False, equal: bool = True) -> dict[str, Any]:
    return {"name": name, "value": value, "isRegex": regex, "isEqual": equal}


async def create(app: RunningApp, body: dict[str, Any]) -> int:
    response = await app.client.post("/api/silences", json=body, headers=app.reader_headers())
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["silenceID"]
    silence_id: int = response.json()["silenceID"]
    return silence_id


async def listed(app: RunningApp) -> list[dict[str, Any]]:
    response = await app.client.get("/api/silences", headers=app.reader_headers())
    assert response.status_code == 200
    assert response.json()["next"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_create_match_and_expire(app: RunningApp, clock: FrozenClock) -> None:
    silence_id = await create(app, silence_body(matcher("system", "db")))
    [shown] = await listed(app)
    assert shown == {
        "id": silence_id,
        "matchers": [matcher("system", "db")],
        "startsAt": START.isoformat(),
        "endsAt": (START + timedelta(hours=1)).isoformat(),
        "updatedAt": START.isoformat(),
        "createdBy": "anna",
        "comment": "failover drill",
        "status": {"state": "active"},
    }
    silenced = await fire(app, "db", "replica-lag")
    other = await fire(app, "api", "5xx")  # another system: not matched
    assert silenced is not None
    assert other is not None
    found = await detail(app, silenced)
    assert found["silenced_until"] == (START + timedelta(hours=1)).isoformat()
    assert found["next_action_at"] == (START + timedelta(hours=1)).isoformat()
    assert [a["dedup_key"] for a in found["alerts"]] == ["generic:replica-lag"]  # stored, shown
    assert kinds(found) == ["opened", "silenced"]
    assert await paged(app, silenced) == []
    assert await paged(app, other) == ["bo"]

    await run_minutes(app, clock, 59)
    assert await paged(app, silenced) == []
    await run_minutes(app, clock, 1)  # the silence ends: paged as if new
    assert await paged(app, silenced) == ["bo"]
    found = await detail(app, silenced)
    assert found["silenced_until"] is None
    assert kinds(found) == ["opened", "silenced", "silence_over", "paged"]
    assert [s["status"]["state"] for s in await listed(app)] == ["expired"]


async def test_an_incident_resolved_while_silenced_is_never_paged(
    app: RunningApp, clock: FrozenClock
) -> None:
    await create(app, silence_body(matcher("service", "d.", regex=True)))
    incident = await fire(app, "db", "replica-lag")
    assert incident is not None
    await fire(app, "db", "replica-lag", "resolved")
    await run_minutes(app, clock, 61)
    assert await paged(app, incident) == []


async def test_delete_before_the_end_pages_at_the_next_tick(app: RunningApp) -> None:
    silence_id = await create(app, silence_body(matcher("monitor", "generic"), hours=2))
    incident = await fire(app, "db", "replica-lag")
    assert incident is not None
    assert await paged(app, incident) == []
    response = await app.client.delete(f"/api/silences/{silence_id}", headers=app.reader_headers())
    assert response.status_code == 200
    assert await paged(app, incident) == ["bo"]  # no clock move: the tick right after
    [shown] = await listed(app)
    assert shown["status"] == {"state": "expired"}
    assert shown["endsAt"] == START.isoformat()


async def test_only_silences_matching_every_alert_hold_an_incident(app: RunningApp) -> None:
    # Not-equal: critical alerts are not silenced by severity != critical.
    await create(app, silence_body(matcher("severity", "critical", equal=False)))
    await create(app, silence_body(matcher("customer", "acme"), starts=START + timedelta(hours=1)))
    incident = await fire(app, "db", "replica-lag")
    assert incident is not None
    assert await paged(app, incident) == ["bo"]
    assert [s["status"]["state"] for s in await listed(app)] == ["pending", "active"]


async def test_silences_need_an_engineer_and_a_valid_body(app: RunningApp) -> None:
    body = silence_body(matcher("system", "db"))
    assert (await app.client.post("/api/silences", json=body)).status_code == 401
    customer = await app.token(TokenKind.CUSTOMER, "acme")
    as_customer = {"Authorization": f"Bearer {customer}"}
    response = await app.client.post("/api/silences", json=body, headers=as_customer)
    assert response.status_code == 403
    assert (await app.client.get("/api/silences", headers=as_customer)).status_code == 403
    headers = app.reader_headers()
    backwards = silence_body(matcher("system", "db"), hours=-1)
    bad_regex = silence_body(matcher("system", "(", regex=True))
    empty = silence_body()
    for invalid in (backwards, bad_regex, empty):
        response = await app.client.post("/api/silences", json=invalid, headers=headers)
        assert response.status_code == 422, response.text
    missing = await app.client.delete("/api/silences/999", headers=headers)
    assert missing.status_code == 404
