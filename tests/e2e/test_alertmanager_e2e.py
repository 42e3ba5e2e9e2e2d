"""A real Prometheus Alertmanager delivers a firing and then a resolved alert to skillpager."""

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.daemon import Daemon
from tests.support.server import LOOPBACK, ServerProcess, free_port, require_binary

pytestmark = pytest.mark.slow

_BINARY = "prometheus-alertmanager"
_DELIVERY_TIMEOUT_S = 15.0


class AlertmanagerProcess(Daemon):
    """One Alertmanager on 127.0.0.1 whose only receiver is skillpager's webhook."""

    def __init__(self, binary: str, directory: Path, *, webhook_url: str, token: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        config = directory / "alertmanager.yml"
        # JSON is YAML; group_wait/interval of 1s keep the test quick.
        config.write_text(json.dumps(_config(webhook_url, token), indent=2))
        storage = directory / "data"
        storage.mkdir()
        command = [
            binary,
            f"--config.file={config}",
            f"--storage.path={storage}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--cluster.listen-address=",
        ]
        log = directory / "alertmanager.log"
        super().__init__(command, log, ready_url=f"{self.base_url}/-/ready")

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Push alerts through API v2, as Prometheus does."""
        response = httpx.post(f"{self.base_url}/api/v2/alerts", json=alerts, timeout=5.0)
        assert response.status_code == 200, response.text

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's own view of its active alerts."""
        response = httpx.get(f"{self.base_url}/api/v2/alerts", timeout=5.0)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found


def _config(webhook_url: str, token: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "skillpager",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "skillpager",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "http_config": {"authorization": {"credentials": token}},
                        "send_resolved": True,
                    }
                ],
            }
        ],
    }


@pytest.fixture
def alertmanager(server: ServerProcess, tmp_path: Path) -> Iterator[AlertmanagerProcess]:
    """A running Alertmanager wired to the running skillpager; stopped at test end."""
    binary = require_binary(_BINARY)
    directory = tmp_path / "alertmanager"
    directory.mkdir()
    process = AlertmanagerProcess(
        binary,
        directory,
        webhook_url=f"{server.base_url}/webhooks/alertmanager",
        token=server.webhook_token,
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


def _poll(check: Callable[[], dict[str, Any] | None], what: str) -> dict[str, Any]:
    deadline = time.monotonic() + _DELIVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out after {_DELIVERY_TIMEOUT_S}s waiting for {what}")


def _stored(server: ServerProcess, token: str, dedup_key: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.base_url}/api/alerts",
        params={"source": "alertmanager", "limit": 500},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
    )
    response.raise_for_status()
    return [item for item in response.json()["items"] if item["dedup_key"] == dedup_key]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_alertmanager_delivers_firing_then_resolved(
    server: ServerProcess, alertmanager: AlertmanagerProcess
) -> None:
    token = server.create_token()
    started_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    labels = {
        "alertname": "E2EDiskFull",
        "instance": "db-1:9100",
        "service": "payments-db",
        "severity": "page",
    }
    alert = {
        "labels": labels,
        "annotations": {"summary": "disk full on db-1", "runbook_url": "https://runbooks/disk"},
        "startsAt": started_at.isoformat(),
        "generatorURL": "http://prometheus.example/graph?g0.expr=disk",
    }

    alertmanager.post_alerts([alert])
    fingerprint = _poll(
        lambda: next((a for a in alertmanager.alerts() if a["labels"] == labels), None),
        "alertmanager to hold the alert",
    )["fingerprint"]
    dedup_key = f"alertmanager:{fingerprint}"

    firing = _poll(lambda: next(iter(_stored(server, token, dedup_key)), None), "the firing alert")
    assert firing["source"] == "alertmanager"
    assert firing["status"] == "firing"
    assert firing["labels"] == labels
    assert firing["summary"] == "disk full on db-1"
    assert firing["severity"] == "critical"
    assert firing["severity_note"] is None
    assert firing["runbook_url"] == "https://runbooks/disk"
    assert firing["source_url"] == alert["generatorURL"]
    assert _at(firing["started_at"]) == started_at
    assert firing["ended_at"] is None

    ended_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    alertmanager.post_alerts([{**alert, "endsAt": ended_at.isoformat()}])

    def resolved() -> dict[str, Any] | None:
        rows = _stored(server, token, dedup_key)
        done = [row for row in rows if row["status"] == "resolved"]
        return done[0] if done else None

    row = _poll(resolved, "the resolved alert")
    assert row["id"] == firing["id"], "the resolve closes the firing row, not a new one"
    assert _at(row["ended_at"]) == ended_at
    assert _at(row["started_at"]) == started_at
    assert len(_stored(server, token, dedup_key)) == 1
