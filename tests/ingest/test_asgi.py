"""Webhook POSTs take the direct path; other methods and near-miss paths stay FastAPI's."""

import pytest

from app.api.webhooks import enqueue, post_alerts
from app.asgi import direct_handler, webhook_source
from tests.support.app import RunningApp


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/webhooks/alertmanager", "alertmanager"),
        ("/webhooks/no-such-monitor", "no-such-monitor"),
        ("/v2/enqueue", ""),
        ("/webhooks/", None),
        ("/webhooks/alertmanager/", None),
        ("/webhooks/alertmanager/extra", None),
        ("/webhooks", None),
        ("/v2/enqueue/", None),
        ("/api/alerts", None),
    ],
)
def test_webhook_source_of_a_path(path: str, source: str | None) -> None:
    assert webhook_source(path) == source


def test_alertmanagers_post_alerts_takes_the_direct_path_too() -> None:
    assert direct_handler("/api/v2/alerts") is post_alerts
    assert direct_handler("/v2/enqueue") is enqueue
    assert direct_handler("/webhooks/generic") is not None
    assert direct_handler("/api/v2/alerts/") is None
    assert direct_handler("/api/v2/silences") is None


async def test_direct_path_answers_like_fastapi_did(sqlite_app: RunningApp) -> None:
    client, headers = sqlite_app.client, sqlite_app.webhook_headers()
    unknown = await client.post("/webhooks/nagios", content=b"{}", headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown source 'nagios'"
    unauthenticated = await client.post("/webhooks/generic", content=b"{}")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    malformed = await client.post("/webhooks/generic", content=b"{", headers=headers)
    assert (malformed.status_code, malformed.json()["error"]) == (400, "malformed request body")
    pagerduty = await client.post("/v2/enqueue", content=b"[]", headers=headers)
    assert pagerduty.status_code == 400
    assert pagerduty.json()["status"] == "invalid event"


async def test_other_methods_and_paths_reach_fastapi(sqlite_app: RunningApp) -> None:
    client, headers = sqlite_app.client, sqlite_app.webhook_headers()
    assert (await client.get("/webhooks/generic", headers=headers)).status_code == 405
    assert (await client.post("/webhooks/generic/x", headers=headers)).status_code == 404
    schema = (await client.get("/openapi.json")).json()
    assert {"/webhooks/{source}", "/v2/enqueue"} <= set(schema["paths"])
