"""Incidents per §3: open, join, group unrouted, resolve from the source, reopen, severity rise."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.clock import FrozenClock
from app.store.tokens import TokenKind
from tests.support.app import RunningApp, app_settings, incident_detail, post_generic, running_app

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def app(database_url: str, clock: FrozenClock) -> AsyncIterator[RunningApp]:
    async with running_app(app_settings(database_url), clock) as running:
        yield running


async def fire(app: RunningApp, key: str, status: str = "firing", **fields: Any) -> Any:
    body = {"summary": fields.pop("summary", f"alert {key}"), "dedup_key": key, "status": status}
    body |= {"severity": "critical", **fields}
    answer = await post_generic(app, body)
    await app.services.escalation.settle()
    return answer


async def incident(app: RunningApp, incident_id: int) -> dict[str, Any]:
    await app.services.escalation.settle()
    return await incident_detail(app, incident_id)


async def incidents(app: RunningApp, **params: str) -> list[dict[str, Any]]:
    response = await app.client.get("/api/incidents", params=params, headers=app.reader_headers())
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_systems_get_their_own_incident_and_later_alerts_join(app: RunningApp) -> None:
    db = await fire(app, "db-lag", labels={"service": "payments-db"})
    k8s = await fire(app, "node-down", labels={"cluster": "prod-eu"})
    joined = await fire(app, "db-disk", labels={"service": "payments-db"})
    assert db["incidents"] == joined["incidents"] != k8s["incidents"]
    found = await incident(app, db["incidents"][0])
    assert (found["system"], found["customer"], found["state"]) == (
        "payments-db",
        "acme",
        "triggered",
    )
    assert found["alert_count"] == 2
    assert [a["dedup_key"] for a in found["alerts"]] == ["generic:db-lag", "generic:db-disk"]
    assert found["decision"]["steps"][0] == {"after_s": 0, "engineers": ["bo"]}
    # Paged at once (step 1), the next step due one ack_timeout later.
    assert found["next_action_at"] == (START + timedelta(minutes=5)).isoformat()
    assert [e["kind"] for e in found["timeline"]] == ["opened", "paged"]
    assert (await incident(app, k8s["incidents"][0]))["decision"]["steps"][0]["engineers"] == [
        "carl"
    ]
    assert len(await incidents(app, system="payments-db")) == 1
    assert len(await incidents(app, customer="globex")) == 1


async def test_redelivery_of_a_firing_alert_does_not_add_to_the_incident(app: RunningApp) -> None:
    first = await fire(app, "db-lag", labels={"service": "payments-db"})
    await fire(app, "db-lag", labels={"service": "payments-db"})
    assert (await incident(app, first["incidents"][0]))["alert_count"] == 1


async def test_unrouted_alerts_group_by_alertname_and_customer(app: RunningApp) -> None:
    a = await fire(app, "u1", labels={"alertname": "DiskFull", "customer": "acme"})
    b = await fire(app, "u2", labels={"alertname": "DiskFull", "customer": "acme"})
    c = await fire(app, "u3", labels={"alertname": "DiskFull", "customer": "globex"})
    assert a["incidents"] == b["incidents"] != c["incidents"]
    found = await incident(app, a["incidents"][0])
    assert found["unrouted"] is True
    assert found["system"] is None
    assert found["decision"]["group"] == "unrouted:DiskFull|acme"
    assert found["decision"]["steps"] == [{"after_s": 0, "engineers": ["anna"]}]


async def test_unrouted_alerts_without_group_labels_each_open_their_own(app: RunningApp) -> None:
    info = await fire(app, "auth-test", severity="info", summary="basic auth test")
    crit = await fire(app, "outage", severity="critical", summary="checkout down")
    other = await fire(app, "queue", severity="critical", summary="queue stuck")
    assert len({info["incidents"][0], crit["incidents"][0], other["incidents"][0]}) == 3
    found = await incident(app, crit["incidents"][0])
    assert found["decision"]["group"] == "unrouted-key:generic|generic:outage"
    assert found["summary"] == "checkout down"
    assert {page["engineer"] for page in found["pages"]} == {"anna"}
    assert (await incident(app, other["incidents"][0]))["pages"]


async def test_incident_resolves_when_all_its_alerts_have(app: RunningApp) -> None:
    opened = await fire(app, "db-lag", labels={"service": "payments-db"})
    await fire(app, "db-disk", labels={"service": "payments-db"})
    incident_id = opened["incidents"][0]
    await fire(app, "db-lag", status="resolved")
    assert (await incident(app, incident_id))["state"] == "triggered"
    await fire(app, "db-disk", status="resolved")
    found = await incident(app, incident_id)
    assert found["state"] == "resolved"
    assert found["resolved_at"] == START.isoformat()
    assert found["next_action_at"] is None
    assert found["timeline"][-1]["kind"] == "resolved"
    assert found["timeline"][-1]["note"] == "all alerts resolved"


async def test_refire_within_flap_window_reopens_after_it_opens_new(
    app: RunningApp, clock: FrozenClock
) -> None:
    first = (await fire(app, "db-lag", labels={"service": "payments-db"}))["incidents"][0]
    await fire(app, "db-lag", status="resolved")
    clock.advance(timedelta(minutes=10))
    again = await fire(app, "db-lag", labels={"service": "payments-db"})
    assert again["incidents"] == [first]
    found = await incident(app, first)
    assert found["state"] == "triggered"
    kinds = [e["kind"] for e in found["timeline"]]
    assert kinds == ["opened", "paged", "resolved", "reopened", "paged"]
    await fire(app, "db-lag", status="resolved")
    clock.advance(timedelta(minutes=31))  # past the default 30m flap window
    later = await fire(app, "db-lag", labels={"service": "payments-db"})
    assert later["incidents"] != [first]


async def test_severity_rise_reroutes_a_dashboard_only_incident(app: RunningApp) -> None:
    quiet = await fire(app, "db-info", severity="info", labels={"service": "payments-db"})
    found = await incident(app, quiet["incidents"][0])
    assert (found["decision"]["action"], found["next_action_at"]) == ("dashboard", None)
    await fire(app, "db-crit", severity="critical", labels={"service": "payments-db"})
    found = await incident(app, quiet["incidents"][0])
    assert found["severity"] == "critical"
    # The page names the alert that made it page, not the info alert that opened it.
    assert found["summary"] == "alert db-crit"
    assert found["pages"]
    assert all("alert db-crit" in page["text"] for page in found["pages"])
    assert not any("db-info" in page["text"] for page in found["pages"])
    assert found["decision"]["action"] == "page"
    assert found["next_action_at"] == (START + timedelta(minutes=5)).isoformat()
    assert [e["kind"] for e in found["timeline"]] == ["opened", "rerouted", "paged"]


async def test_customer_sees_only_its_incidents_without_routing_reasons(app: RunningApp) -> None:
    acme = (await fire(app, "db-lag", labels={"service": "payments-db"}))["incidents"][0]
    globex = (await fire(app, "node", labels={"cluster": "prod-1"}))["incidents"][0]
    token = await app.token(TokenKind.CUSTOMER, "acme")
    headers = {"Authorization": f"Bearer {token}"}
    listed = (await app.client.get("/api/incidents", headers=headers)).json()["items"]
    assert [i["id"] for i in listed] == [acme]
    assert "decision" not in listed[0]
    assert (await app.client.get(f"/api/incidents/{globex}", headers=headers)).status_code == 404
    alerts = (await app.client.get("/api/alerts", headers=headers)).json()["items"]
    assert [a["dedup_key"] for a in alerts] == ["generic:db-lag"]


@pytest.fixture
def postgres_url(postgres_databases: Any) -> str:
    url: str = postgres_databases.fresh()
    return url


@pytest.mark.postgres
async def test_concurrent_writers_open_one_incident_per_group(postgres_url: str) -> None:
    url = postgres_url
    async with running_app(app_settings(url)) as one, running_app(app_settings(url)) as two:
        posts = [
            fire(replica, f"k{i}", labels={"service": "payments-db"})
            for i in range(40)
            for replica in (one, two)
        ]
        results = await asyncio.gather(*posts)
        conflicts = sum(
            replica.services.metrics.writer_conflicts._value.get() for replica in (one, two)
        )
    print("writer conflicts retried:", conflicts)
    assert len({r["incidents"][0] for r in results}) == 1
