"""A real Prometheus Alertmanager delivers a firing and then a resolved alert to skillpager."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.alertmanager_process import (
    FAST_ROUTE,
    AlertmanagerProcess,
    poll,
    running_alertmanager,
)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


def _config(webhook_url: str, token: str) -> dict[str, Any]:
    return {
        "route": {"receiver": "skillpager", "group_by": ["alertname"], **FAST_ROUTE},
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
    config = _config(f"{server.base_url}/webhooks/alertmanager", server.webhook_token)
    with running_alertmanager(tmp_path / "alertmanager", config) as process:
        yield process


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
    fingerprint = poll(
        lambda: next((a for a in alertmanager.alerts() if a["labels"] == labels), None),
        "alertmanager to hold the alert",
    )["fingerprint"]
    dedup_key = f"alertmanager:{fingerprint}"

    firing = poll(lambda: next(iter(_stored(server, token, dedup_key)), None), "the firing alert")
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

    row = poll(resolved, "the resolved alert")
    assert row["id"] == firing["id"], "the resolve closes the firing row, not a new one"
    assert _at(row["ended_at"]) == ended_at
    assert _at(row["started_at"]) == started_at
    assert len(_stored(server, token, dedup_key)) == 1
