"""Webhooks over real HTTP into real databases: alert rows per §3, auth, limits, errors."""

import base64
import json
from pathlib import Path
from typing import Any

from app.store.tokens import TokenKind
from tests.support.app import WEBHOOK_TOKEN, RunningApp

AM = Path(__file__).parent.parent / "fixtures" / "alertmanager"


async def post(app: RunningApp, source: str, body: bytes | str, **kw: Any) -> Any:
    headers = kw.pop("headers", app.webhook_headers())
    content = body.encode() if isinstance(body, str) else body
    return await app.client.post(f"/webhooks/{source}", content=content, headers=headers, **kw)


async def alerts(app: RunningApp, **params: str) -> list[dict[str, Any]]:
    response = await app.client.get("/api/alerts", params=params, headers=app.reader_headers())
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_firing_alert_is_stored_with_its_fields(app: RunningApp) -> None:
    response = await post(app, "alertmanager", (AM / "single_firing.json").read_bytes())
    assert response.status_code == 202
    [alert_id] = response.json()["alerts"]
    [stored] = await alerts(app)
    assert stored["id"] == alert_id
    assert stored["dedup_key"] == "alertmanager:3fa85f6457174562"
    assert (stored["status"], stored["severity"], stored["count"]) == ("firing", "critical", 1)
    assert stored["summary"] == "Replica lag 47s"
    assert stored["labels"]["service"] == "payments-db"
    assert stored["started_at"] == "2026-11-27T10:00:00.123456+00:00"
    assert stored["runbook_url"] == "https://docs.example/acme/payments-db"
    assert stored["ended_at"] is None


async def test_grouped_body_makes_one_row_per_alert(app: RunningApp) -> None:
    response = await post(app, "alertmanager", (AM / "grouped_firing_resolved.json").read_bytes())
    assert response.status_code == 202
    rows = {a["dedup_key"]: a for a in await alerts(app)}
    assert rows["alertmanager:aaaa000000000001"]["status"] == "firing"
    assert rows["alertmanager:aaaa000000000002"]["status"] == "resolved"
    assert rows["alertmanager:aaaa000000000002"]["ended_at"] == "2026-11-27T10:05:00+00:00"


async def test_repeat_updates_then_resolve_closes_then_refire_opens_new_row(
    app: RunningApp,
) -> None:
    firing = (AM / "single_firing.json").read_bytes()
    assert (await post(app, "alertmanager", firing)).status_code == 202
    assert (await post(app, "alertmanager", firing)).status_code == 202
    [row] = await alerts(app)
    assert row["count"] == 2
    resolved = (AM / "resolved_follow_up.json").read_bytes()
    assert (await post(app, "alertmanager", resolved)).json()["alerts"] == [row["id"]]
    # Alertmanager repeats resolved alerts in later group notifications: no new rows.
    assert (await post(app, "alertmanager", resolved)).json()["alerts"] == [row["id"]]
    [closed] = await alerts(app)
    assert (closed["status"], closed["ended_at"]) == (
        "resolved",
        "2026-11-27T10:07:30.500000+00:00",
    )
    refire = (await post(app, "alertmanager", firing)).json()["alerts"]
    assert refire != [row["id"]]
    rows = await alerts(app)
    assert [(r["id"], r["status"]) for r in rows] == [
        (refire[0], "firing"),
        (row["id"], "resolved"),
    ]


async def test_resolved_for_unknown_key_is_stored_resolved(app: RunningApp) -> None:
    body = json.dumps({"summary": "gone", "status": "resolved", "dedup_key": "never-fired"})
    assert (await post(app, "generic", body)).status_code == 202
    [row] = await alerts(app)
    assert (row["status"], row["dedup_key"]) == ("resolved", "generic:never-fired")
    assert row["incident_id"] is None


async def test_fire_and_resolve_in_one_body(app: RunningApp) -> None:
    body = json.dumps(
        [
            {"summary": "flap", "dedup_key": "k"},
            {"summary": "flap", "dedup_key": "k", "status": "resolved"},
            {"summary": "flap", "dedup_key": "k"},
        ]
    )
    ids = (await post(app, "generic", body)).json()["alerts"]
    assert ids[0] == ids[1] != ids[2]
    assert [(r["id"], r["status"]) for r in await alerts(app)] == [
        (ids[2], "firing"),
        (ids[0], "resolved"),
    ]


async def test_alert_detail_has_raw_events(app: RunningApp) -> None:
    raw = (AM / "single_firing.json").read_bytes()
    [alert_id] = (await post(app, "alertmanager", raw)).json()["alerts"]
    await post(app, "alertmanager", raw)
    detail = await app.client.get(f"/api/alerts/{alert_id}", headers=app.reader_headers())
    events = detail.json()["raw_events"]
    assert len(events) == 2
    assert events[0]["body"] == raw.decode()
    assert "authorization" not in events[0]["headers"]


async def test_filters_and_cursor_paging(sqlite_app: RunningApp) -> None:
    body = [
        {"summary": f"alert {i}", "dedup_key": f"k{i}", "severity": ["critical", "info"][i % 2]}
        for i in range(7)
    ]
    await post(sqlite_app, "generic", json.dumps(body))
    first = await sqlite_app.client.get(
        "/api/alerts", params={"limit": 3}, headers=sqlite_app.reader_headers()
    )
    page1 = first.json()
    assert [a["summary"] for a in page1["items"]] == ["alert 6", "alert 5", "alert 4"]
    second = await sqlite_app.client.get(
        "/api/alerts",
        params={"limit": 3, "cursor": page1["next"]},
        headers=sqlite_app.reader_headers(),
    )
    assert [a["summary"] for a in second.json()["items"]] == ["alert 3", "alert 2", "alert 1"]
    assert len(await alerts(sqlite_app, severity="info")) == 3
    assert [a["summary"] for a in await alerts(sqlite_app, q="ert 5")] == ["alert 5"]
    assert await alerts(sqlite_app, source="alertmanager") == []
    assert len(await alerts(sqlite_app, status="firing")) == 7


async def test_token_schemes_and_scopes(sqlite_app: RunningApp) -> None:
    body = json.dumps({"summary": "x"})
    basic = base64.b64encode(f"prometheus:{WEBHOOK_TOKEN}".encode()).decode()
    assert (await post(sqlite_app, "generic", body, headers={})).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await post(sqlite_app, "generic", body, headers=wrong)).status_code == 401
    ok_basic = await post(sqlite_app, "generic", body, headers={"Authorization": f"Basic {basic}"})
    assert ok_basic.status_code == 202
    query = f"/webhooks/generic?token={WEBHOOK_TOKEN}"
    assert (await sqlite_app.client.post(query, content=body)).status_code == 202
    am_only = await sqlite_app.token(TokenKind.WEBHOOK, "alertmanager")
    scoped = {"Authorization": f"Bearer {am_only}"}
    assert (await post(sqlite_app, "generic", body, headers=scoped)).status_code == 403
    # Webhook tokens open webhooks only; reading needs an engineer or customer token.
    api = await sqlite_app.client.get("/api/alerts", headers=scoped)
    assert api.status_code == 403
    assert (await sqlite_app.client.get("/api/alerts")).status_code == 401


async def test_too_large_unknown_source_and_metrics(sqlite_app: RunningApp) -> None:
    limit = sqlite_app.services.settings.max_body_bytes
    big = b'{"summary": "' + b"x" * limit + b'"}'
    assert (await post(sqlite_app, "generic", big)).status_code == 413

    async def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    streamed = await sqlite_app.client.post(
        "/webhooks/generic", content=chunks(), headers=sqlite_app.webhook_headers()
    )
    assert streamed.status_code == 413
    unknown = await post(sqlite_app, "nagios", "{}")
    assert unknown.status_code == 404
    assert "alertmanager" in unknown.json()["detail"]["known"]
    truncated = (AM / "truncated_group.json").read_bytes()
    assert (await post(sqlite_app, "alertmanager", truncated)).status_code == 202
    metrics = (await sqlite_app.client.get("/metrics")).text
    assert 'skillpager_requests_rejected_total{reason="too_large"} 2.0' in metrics
    assert 'skillpager_requests_rejected_total{reason="not_found"} 1.0' in metrics
    assert "skillpager_alertmanager_truncated_alerts_total 17.0" in metrics
    assert 'skillpager_alerts_received_total{source="alertmanager",status="firing"} 1.0' in metrics
    assert "skillpager_writer_batch_alerts_count" in metrics
    assert WEBHOOK_TOKEN not in metrics


async def test_customer_token_sees_no_raw_events_and_no_foreign_alerts(
    sqlite_app: RunningApp,
) -> None:
    await post(sqlite_app, "generic", json.dumps({"summary": "x"}))
    token = await sqlite_app.token(TokenKind.CUSTOMER, "acme")
    response = await sqlite_app.client.get(
        "/api/alerts", headers={"Authorization": f"Bearer {token}"}
    )
    # The alert belongs to no acme incident, so a customer sees nothing of it.
    assert response.status_code == 200
    assert response.json()["items"] == []
    detail = await sqlite_app.client.get(
        "/api/alerts/1", headers={"Authorization": f"Bearer {token}"}
    )
    assert detail.status_code == 404


async def test_health_and_readiness(sqlite_app: RunningApp) -> None:
    assert (await sqlite_app.client.get("/healthz")).json() == {"status": "ok"}
    ready = await sqlite_app.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
