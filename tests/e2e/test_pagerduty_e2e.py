"""Tools that speak PagerDuty, for real: Alertmanager's `pagerduty_configs` and PagerDuty's own
Python SDK (through an HTTPS proxy, as SDK 7 requires) reach the right system, get PagerDuty's
answers, and a change event lands beside the incident."""

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pagerduty
import pytest

from tests.support.alertmanager_process import (
    FAST_ROUTE,
    AlertmanagerProcess,
    poll,
    running_alertmanager,
)
from tests.support.readme import yaml_snippet
from tests.support.server import ServerProcess
from tests.support.tls_proxy import TlsProxy

pytestmark = pytest.mark.slow

# The README's receiver: `details` sends the labels routing reads as fields of their own.
_README_RECEIVER = yaml_snippet("PagerDuty Events API v2 (any tool that speaks it)")
_README_DETAILS: dict[str, str] = _README_RECEIVER["receivers"][0]["pagerduty_configs"][0][
    "details"
]


def _receiver(name: str, url: str, token: str, details: dict[str, str] | None) -> dict[str, Any]:
    config: dict[str, Any] = {"url": url, "routing_key": token, "send_resolved": True}
    if details is not None:
        config["details"] = details
    return {"name": name, "pagerduty_configs": [config]}


def _config(url: str, token: str) -> dict[str, Any]:
    """The README receiver, and (for alerts labelled via=default) one left at Alertmanager's
    defaults, whose labels arrive only as its `firing` text."""
    route = {
        "receiver": "readme",
        "group_by": ["alertname"],
        "routes": [{"receiver": "default", "matchers": ['via="default"']}],
        **FAST_ROUTE,
    }
    receivers = [
        _receiver("readme", url, token, _README_DETAILS),
        _receiver("default", url, token, None),
    ]
    return {"route": route, "receivers": receivers}


@pytest.fixture
def alertmanager(server: ServerProcess, tmp_path: Path) -> Iterator[AlertmanagerProcess]:
    """Alertmanager posting PagerDuty events to the running skillpager's /v2/enqueue."""
    config = _config(f"{server.base_url}/v2/enqueue", server.webhook_token)
    with running_alertmanager(tmp_path / "alertmanager", config) as process:
        yield process


@pytest.fixture
def proxy(server: ServerProcess, tmp_path: Path) -> Iterator[TlsProxy]:
    """HTTPS with a self-signed certificate in front of the running skillpager."""
    with TlsProxy(server.port, tmp_path) as running:
        yield running


def _incidents(server: ServerProcess, token: str, system: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.base_url}/api/incidents",
        params={"system": system},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
    )
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _first(server: ServerProcess, token: str, system: str) -> dict[str, Any] | None:
    return next(iter(_incidents(server, token, system)), None)


def _detail(server: ServerProcess, token: str, incident_id: int) -> dict[str, Any]:
    response = httpx.get(
        f"{server.base_url}/api/incidents/{incident_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
    )
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def test_alertmanager_pagerduty_configs_route_to_their_systems(
    server: ServerProcess, alertmanager: AlertmanagerProcess
) -> None:
    token = server.create_token()
    alertmanager.post_alerts(
        [
            {"labels": {"alertname": "E2EReplicaLag", "service": "payments-db"}},
            {
                "labels": {
                    "alertname": "E2EOrdersSlow",
                    "service": "orders",
                    "customer": "globex",
                    "via": "default",
                }
            },
        ]
    )
    for system in ("payments-db", "globex-orders"):
        found = poll(partial(_first, server, token, system), f"an incident of {system}")
        assert found["unrouted"] is False
        # Alertmanager's default severity for PagerDuty is `error`: critical, as PagerDuty's
        # urgency mapping has it.
        assert found["severity"] == "critical"


def test_the_pagerduty_sdk_over_https_gets_pagerdutys_answers(
    server: ServerProcess, proxy: TlsProxy
) -> None:
    verify = proxy.client_context()
    with pytest.raises(pagerduty.UrlError):
        pagerduty.EventsApiV2Client(server.webhook_token, base_url=server.base_url)
    client = pagerduty.EventsApiV2Client(
        server.webhook_token, base_url=proxy.base_url, verify=verify
    )
    wrong = pagerduty.EventsApiV2Client("not-a-token", base_url=proxy.base_url, verify=verify)
    with client, wrong:
        _sdk_round(server, client, wrong)


def _sdk_round(
    server: ServerProcess, client: pagerduty.EventsApiV2Client, wrong: pagerduty.EventsApiV2Client
) -> None:
    """Trigger, acknowledge, a change event, resolve; then what PagerDuty would refuse."""
    reader = server.create_token()
    key = client.trigger(
        "replica lag 47s on db-2", "db-2", custom_details={"service": "payments-db"}
    )
    assert key
    [incident] = _incidents(server, reader, "payments-db")
    assert incident["summary"] == "replica lag 47s on db-2"
    assert client.acknowledge(key) == key
    assert _detail(server, reader, incident["id"])["state"] == "acknowledged"
    client.send_change_event(
        payload={
            "summary": "deploy payments-db v42",
            "source": "ci",
            "custom_details": {"service": "payments-db"},
        },
        links=[{"href": "https://ci.example/42", "text": "build 42"}],
    )
    assert client.resolve(key) == key
    detail = _detail(server, reader, incident["id"])
    assert detail["state"] == "resolved"
    assert [change["summary"] for change in detail["changes"]] == ["deploy payments-db v42"]
    for send in (
        lambda: wrong.trigger("x", "y"),
        lambda: wrong.send_change_event(payload={"summary": "x"}),
        lambda: client.send_change_event(payload={"source": "no summary"}),
    ):
        with pytest.raises(pagerduty.HttpError) as refused:
            send()
        assert refused.value.response is not None
        assert refused.value.response.status_code == 400
        assert refused.value.response.json()["status"] == "invalid event"
