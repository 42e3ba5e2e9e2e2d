"""SIGKILL under load loses nothing: every alert answered 202 is stored after a restart."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.alertmanager import firing_alert, webhook_message
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

_CONCURRENCY = 12
_LOAD_BEFORE_KILL_S = 2.0
_MIN_ACKED = 100


@dataclass
class _Load:
    """What the load generator saw: acked alert ids by dedup key, and anything unexpected."""

    acked: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    unexpected: list[str] = field(default_factory=list)
    killed: asyncio.Event = field(default_factory=asyncio.Event)


def _message(dedup: str) -> dict[str, Any]:
    alert = firing_alert(
        dedup, f"restart load {dedup}", alertname="RestartLoad", n=dedup, severity="info"
    )
    return webhook_message("RestartLoad", [alert])


async def _worker(client: httpx.AsyncClient, worker: int, load: _Load) -> None:
    sequence = 0
    while True:
        fingerprint = f"w{worker:02d}-{sequence:06d}"
        sequence += 1
        try:
            response = await client.post("/webhooks/alertmanager", json=_message(fingerprint))
        except httpx.TransportError as exc:
            if not load.killed.is_set():
                load.unexpected.append(f"{fingerprint}: {type(exc).__name__} before the kill")
            return
        load.requests += 1
        if response.status_code != 202:
            load.unexpected.append(f"{fingerprint}: {response.status_code} {response.text[:200]}")
            continue
        (alert_id,) = response.json()["alerts"]
        load.acked[f"alertmanager:{fingerprint}"] = alert_id


async def _drive_and_kill(server: ServerProcess) -> _Load:
    load = _Load()
    limits = httpx.Limits(max_connections=_CONCURRENCY, max_keepalive_connections=_CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=server.webhook_headers(), limits=limits, timeout=10.0
    ) as client:
        workers = [
            asyncio.create_task(_worker(client, worker, load)) for worker in range(_CONCURRENCY)
        ]
        await asyncio.sleep(_LOAD_BEFORE_KILL_S)
        # Set first: from here on a dropped connection is expected, not a failure.
        load.killed.set()
        server.kill()
        await asyncio.wait_for(asyncio.gather(*workers), timeout=15)
    return load


async def _stored_alerts(server: ServerProcess, token: str) -> dict[str, int]:
    stored: dict[str, int] = {}
    params: dict[str, str | int] = {"source": "alertmanager", "limit": 500}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
    ) as client:
        while True:
            response = await client.get("/api/alerts", params=params)
            response.raise_for_status()
            body = response.json()
            stored.update({item["dedup_key"]: item["id"] for item in body["items"]})
            if body["next"] is None:
                return stored
            params["cursor"] = body["next"]


async def test_sigkill_under_load_loses_no_acknowledged_alert(server: ServerProcess) -> None:
    started = time.monotonic()
    load = await _drive_and_kill(server)

    assert load.unexpected == []
    assert len(load.acked) >= _MIN_ACKED, f"only {len(load.acked)} acked: load too light to tell"

    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.create_token)
    stored = await _stored_alerts(server, token)

    missing = sorted(set(load.acked) - set(stored))
    assert missing == [], f"{len(missing)} of {len(load.acked)} acked alerts lost: {missing[:10]}"
    moved = {key: (i, stored[key]) for key, i in load.acked.items() if stored[key] != i}
    assert moved == {}, "an acked alert is stored under another id"
    # Requests in flight at the kill may have committed without an answer; nothing else may.
    assert len(stored) <= load.requests + _CONCURRENCY

    async with httpx.AsyncClient(
        base_url=server.base_url, headers=server.webhook_headers(), timeout=10.0
    ) as client:
        response = await client.post("/webhooks/alertmanager", json=_message("after-restart"))
    assert response.status_code == 202
    assert response.json()["alerts"][0] > max(stored.values())
    assert time.monotonic() - started < 30
