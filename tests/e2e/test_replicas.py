"""Two replicas on one PostgreSQL database split the outbox: every page goes out exactly once.

Both `skillpager serve` processes tick and send (FOR UPDATE SKIP LOCKED claims); webhook posts
alternate between them, so each commits incidents and kicks its own engine while the other's
timer races it for the same rows. 200 systems, each with its own expert, keep every first page
a separate SMS (pages due at once for one engineer would be bundled into one message).
"""

import asyncio
import itertools
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.fakes.twilio_server import TwilioFake
from tests.support.alertmanager import service_down
from tests.support.cycles import wait_for_engine_cycles
from tests.support.databases import PostgresDatabases
from tests.support.providers import twilio_env
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

_SYSTEMS = 200
_CONCURRENCY = 16
_WAIT_S = 40.0
_LEAD_PHONE = "+46701112233"
_ACCEPTED = re.compile(r"sms page (\d+) to \S+ accepted")


def _phone(index: int) -> str:
    return f"+1202555{index:04d}"


def _write_rules(directory: Path) -> Path:
    """System sNNN (label service=sNNN) needs skill kNNN, which only engineer eNNN has."""
    rules = directory / "rules"
    rules.mkdir()
    (rules / "policy.yaml").write_text(
        "ack_timeout: 5m\nnotify: {critical: always, warning: always, info: never}\n"
    )
    systems = "".join(
        f"  s{i:03d}:\n    skills: [k{i:03d}]\n    match:\n      - {{service: s{i:03d}}}\n"
        for i in range(_SYSTEMS)
    )
    (rules / "systems.yaml").write_text(f"systems:\n{systems}")
    engineers = "".join(
        f'  e{i:03d}: {{phone: "{_phone(i)}", skills: {{k{i:03d}: 5}}}}\n' for i in range(_SYSTEMS)
    )
    (rules / "team.yaml").write_text(
        f'lead: anna\nengineers:\n  anna: {{phone: "{_LEAD_PHONE}"}}\n{engineers}'
    )
    return rules


@pytest.fixture
def replicas(
    tmp_path: Path, postgres_databases: PostgresDatabases, twilio_fake: TwilioFake
) -> Iterator[list[ServerProcess]]:
    """Two running servers on one fresh PostgreSQL database and one fake Twilio."""
    database_url = postgres_databases.fresh()
    env = twilio_env(twilio_fake, throttle=False, SKILLPAGER_RULES_DIR=str(_write_rules(tmp_path)))
    servers: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            directory = tmp_path / name
            directory.mkdir()
            server = ServerProcess(directory, env=env, database_url=database_url)
            servers.append(server)
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _message(index: int) -> dict[str, Any]:
    name = f"s{index:03d}"
    return service_down("ReplicaDown", name, f"replica-{name}")


async def _fire_all(servers: list[ServerProcess]) -> dict[int, int]:
    """Post one alert per system, alternating replicas; incident id → system index."""
    clients = [
        httpx.AsyncClient(base_url=s.base_url, headers=s.webhook_headers(), timeout=15.0)
        for s in servers
    ]
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def fire(index: int, client: httpx.AsyncClient) -> tuple[int, int]:
        async with gate:
            response = await client.post("/webhooks/alertmanager", json=_message(index))
        assert response.status_code == 202, response.text
        (incident_id,) = response.json()["incidents"]
        return incident_id, index

    try:
        pairs = zip(range(_SYSTEMS), itertools.cycle(clients), strict=False)
        opened = await asyncio.gather(*(fire(index, client) for index, client in pairs))
    finally:
        for client in clients:
            await client.aclose()
    return dict(opened)


async def _wait_all_sent(database_url: str, expected: int, servers: list[ServerProcess]) -> None:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline:
            sent = await conn.fetchval("SELECT count(*) FROM pages WHERE status = 'sent'")
            if sent >= expected:
                return
            await asyncio.sleep(0.2)
        states = await conn.fetch("SELECT status, count(*) FROM pages GROUP BY status")
    finally:
        await conn.close()
    logs = "\n".join(server.log_tail() for server in servers)
    raise AssertionError(f"not all first pages sent in {_WAIT_S}s: {states}\n{logs}")


async def _pages(server: ServerProcess, incidents: dict[int, int]) -> dict[int, list[Any]]:
    token = await asyncio.to_thread(server.create_token)
    gate = asyncio.Semaphore(_CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=15.0
    ) as client:

        async def pages_of(incident_id: int) -> tuple[int, list[Any]]:
            async with gate:
                response = await client.get(f"/api/incidents/{incident_id}")
            response.raise_for_status()
            return incident_id, response.json()["pages"]

        found = await asyncio.gather(*(pages_of(incident_id) for incident_id in incidents))
    return dict(found)


def _senders_from_logs(servers: list[ServerProcess]) -> list[int]:
    """How many SMS each replica's log says it had accepted (a cross-check of `sent_by`)."""
    return [len(_ACCEPTED.findall(server.log_path.read_text())) for server in servers]


async def test_two_replicas_send_every_page_exactly_once(
    replicas: list[ServerProcess], twilio_fake: TwilioFake
) -> None:
    started = time.monotonic()
    incidents = await _fire_all(replicas)
    assert len(incidents) == _SYSTEMS, "every system must open an incident of its own"

    await _wait_all_sent(replicas[0].database_url, _SYSTEMS, replicas)
    # Two more cycles on both replicas: a double send would show by now.
    await asyncio.to_thread(wait_for_engine_cycles, *replicas)
    pages = await _pages(replicas[1], incidents)

    keys = Counter(
        (incident_id, p["cycle"], p["step"], p["round"], p["engineer"], p["channel"])
        for incident_id, found in pages.items()
        for p in found
    )
    assert [key for key, count in keys.items() if count > 1] == []
    for incident_id, found in pages.items():
        engineer = f"e{incidents[incident_id]:03d}"
        shape = [(p["engineer"], p["channel"], p["kind"], p["step"], p["round"]) for p in found]
        assert shape == [(engineer, "sms", "page", 0, 0)], f"incident {incident_id}: {shape}"
        assert found[0]["status"] == "sent", f"incident {incident_id}: {found[0]}"

    messages = list(twilio_fake.messages)
    assert len(messages) == _SYSTEMS, f"{len(messages)} SMS for {_SYSTEMS} sent pages"
    bodies = Counter((m.to, m.body) for m in messages)
    assert [body for body, count in bodies.items() if count > 1] == [], "an SMS went out twice"
    assert {m.to for m in messages} == {_phone(i) for i in range(_SYSTEMS)}
    for incident_id, index in incidents.items():
        (message,) = [m for m in messages if m.to == _phone(index)]
        assert f"#{incident_id}]" in message.body, "an SMS names the wrong incident"

    by_log = _senders_from_logs(replicas)
    assert sum(by_log) == _SYSTEMS, f"SMS accepted per replica log: {by_log}"
    assert min(by_log) > 0, f"one replica sent everything: {by_log}"
    senders = Counter(found[0]["sent_by"] for found in pages.values())
    assert None not in senders, (
        f"pages.claimed_by (API sent_by) is never written: {senders}; "
        f"the replicas' logs show they sent {by_log}"
    )
    assert len(senders) == 2, f"both replicas must have sent some pages: {senders}"
    assert time.monotonic() - started < 60
