"""Three replicas on one PostgreSQL database, SIGKILLed at random while escalation runs.

500 systems, each with two engineers of its own (eNNN ranked first, fNNN second; anna leads),
on a fast ladder (ack_timeout 3 s): every incident pages eNNN, then fNNN three seconds later.
Alerts are posted round-robin to the three replicas (a client that finds its replica dead or
unready moves on to the next, like a load balancer). Twice, at a random moment (the seed is in
the test output), one replica is SIGKILLed and restarted: once while alerts arrive, once while
the ladder moves from step 1 to step 2.

Pages a killed replica had claimed (`sending`) are first left to the others' recovery, as in
production. Afterwards: per (incident, cycle, step, round, engineer, channel) exactly one page row;
every page of the first two steps `sent`; every sent page to eNNN/fNNN is exactly one SMS at the
fake Twilio (those engineers are paged for one incident only, so their SMS are never bundled); and
every one of the three processes sent some SMS (counted from their logs).
"""

import asyncio
import os
import random
import re
import shutil
import threading
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
from tests.support.databases import PostgresDatabases
from tests.support.providers import twilio_env
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# 500 in the issue; 300 keeps the test inside CI's budget on a two-core runner (set
# SKILLPAGER_KILL_SYSTEMS=500 for the full shape).
SYSTEMS = int(os.environ.get("SKILLPAGER_KILL_SYSTEMS", "300"))
ACK_TIMEOUT_S = 3
CONCURRENCY = 24
# Rows a killed replica left `sending` are settled by the others once they are this old (the
# default is 60 s; the test shortens it): a kill delays its in-flight pages by up to that long.
STALE_S = 5
WAIT_S = STALE_S + 60.0  # generous: CI shares two cores with the three replicas
LEAD_PHONE = "+46701112233"
_ACCEPTED = re.compile(r"sms page (\d+) to \S+ accepted")


def _phone(kind: str, index: int) -> str:
    return f"+1{'202' if kind == 'e' else '303'}555{index:04d}"


def _write_rules(directory: Path) -> Path:
    rules = directory / "rules"
    rules.mkdir()
    (rules / "policy.yaml").write_text(
        f"ack_timeout: {ACK_TIMEOUT_S}s\n"
        "notify: {critical: always, warning: always, info: never}\n"
    )
    systems = "".join(
        f"  s{i:03d}:\n    skills: [k{i:03d}]\n    match:\n      - {{service: s{i:03d}}}\n"
        for i in range(SYSTEMS)
    )
    (rules / "systems.yaml").write_text(f"systems:\n{systems}")
    engineers = "".join(
        f'  e{i:03d}: {{phone: "{_phone("e", i)}", skills: {{k{i:03d}: 5}}}}\n'
        f'  f{i:03d}: {{phone: "{_phone("f", i)}", skills: {{k{i:03d}: 4}}}}\n'
        for i in range(SYSTEMS)
    )
    (rules / "team.yaml").write_text(
        f'lead: anna\nengineers:\n  anna: {{phone: "{LEAD_PHONE}"}}\n{engineers}'
    )
    return rules


@pytest.fixture
def replicas(
    tmp_path: Path, postgres_databases: PostgresDatabases, twilio_fake: TwilioFake
) -> Iterator[list[ServerProcess]]:
    """Three running servers on one fresh PostgreSQL database and one fake Twilio."""
    database_url = postgres_databases.fresh()
    env = twilio_env(
        twilio_fake,
        throttle=False,
        SKILLPAGER_RULES_DIR=str(_write_rules(tmp_path)),
        SKILLPAGER_SENDING_STALE_S=str(STALE_S),
    )
    servers: list[ServerProcess] = []
    try:
        for name in ("a", "b", "c"):
            directory = tmp_path / name
            directory.mkdir()
            server = ServerProcess(directory, env=env, database_url=database_url)
            servers.append(server)
            server.start(timeout_s=40.0)
        yield servers
    finally:
        for server in servers:
            server.stop()
        for server in servers:  # keep the logs next to a failure, drop the bulky rules copy
            shutil.rmtree(server.directory / "rules", ignore_errors=True)


def _message(index: int) -> dict[str, Any]:
    name = f"s{index:03d}"
    return service_down("ReplicaKill", name, f"kill-{name}")


class Killer:
    """SIGKILLs and restarts replicas from a thread; records what it did."""

    def __init__(self, servers: list[ServerProcess], rng: random.Random) -> None:
        self.servers = servers
        self.rng = rng
        self.done: list[str] = []
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    def after(self, delay_s: float, what: str) -> None:
        victim = self.rng.randrange(len(self.servers))

        def run() -> None:
            try:
                time.sleep(delay_s)
                server = self.servers[victim]
                started = time.monotonic()
                server.kill()
                server.start(timeout_s=60.0)
                self.done.append(
                    f"{what}: killed replica {victim} at +{delay_s:.1f}s, "
                    f"back in {time.monotonic() - started:.1f}s"
                )
            except BaseException as exc:  # noqa: BLE001 - re-raised by join()
                self.errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=90)
            assert not thread.is_alive(), "a replica restart hung"
        if self.errors:
            raise self.errors[0]


async def _fire_all(servers: list[ServerProcess]) -> dict[int, int]:
    """One alert per system, round-robin over replicas, moving on from a dead or unready one."""
    clients = [
        httpx.AsyncClient(base_url=s.base_url, headers=s.webhook_headers(), timeout=15.0)
        for s in servers
    ]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def fire(index: int) -> tuple[int, int]:
        answers = []
        async with gate:
            for attempt in range(60):
                client = clients[(index + attempt) % len(clients)]
                try:
                    response = await client.post("/webhooks/alertmanager", json=_message(index))
                except httpx.TransportError as exc:
                    answers.append(repr(exc))
                else:
                    if response.status_code == 202:
                        (incident_id,) = response.json()["incidents"]
                        return incident_id, index
                    answers.append(f"{response.status_code} {response.text[:200]}")
                    assert response.status_code == 503, answers
                await asyncio.sleep(0.1)
        raise AssertionError(f"system {index} never got a 202: {answers}")

    try:
        opened = await asyncio.gather(*(fire(index) for index in range(SYSTEMS)))
    finally:
        for client in clients:
            await client.aclose()
    return dict(opened)


async def _wait_two_steps_sent(dsn: str, servers: list[ServerProcess]) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            sent = await conn.fetchval(
                "SELECT count(*) FROM pages WHERE status = 'sent' AND step < 2 AND round = 0"
            )
            if sent >= 2 * SYSTEMS:
                return
            await asyncio.sleep(0.25)
        states = await conn.fetch(
            "SELECT step, status, count(*) FROM pages GROUP BY step, status ORDER BY 1, 2"
        )
    finally:
        await conn.close()
    logs = "\n".join(server.log_tail() for server in servers)
    raise AssertionError(f"the first two steps were not all sent in {WAIT_S}s: {states}\n{logs}")


async def _wait_orphans_settled(dsn: str) -> None:
    """Until no page has been `sending` for 2 s: a killed replica's claims wait out STALE_S and
    the next recovery pass of another replica (every 30 s); live sends take milliseconds."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            orphans = await conn.fetch(
                "SELECT id, incident_id, step, engineer FROM pages"
                " WHERE status = 'sending' AND claimed_at < now() - interval '2 seconds'"
            )
            if not orphans:
                return
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    raise AssertionError(f"pages a killed replica claimed were not settled in {WAIT_S}s: {orphans}")


async def _page_rows(dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetch(
            "SELECT id, incident_id, cycle, step, round, engineer, channel, kind, status,"
            " provider_id FROM pages ORDER BY id"
        )
    finally:
        await conn.close()


async def test_three_replicas_killed_at_random_page_every_step_exactly_once(
    replicas: list[ServerProcess], twilio_fake: TwilioFake
) -> None:
    seed = random.randrange(1_000_000)
    print(f"replica-kill seed {seed}")
    rng = random.Random(seed)
    dsn = replicas[0].database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    started = time.monotonic()

    killer = Killer(replicas, rng)
    killer.after(rng.uniform(0.5, 3.0), "while alerts arrive")
    incidents = await _fire_all(replicas)
    fired_s = time.monotonic() - started
    assert len(set(incidents)) == SYSTEMS, "every system must open an incident of its own"
    # One kill at a time (a replica being restarted is not killed again). The second lands
    # within an ack_timeout: a ladder step comes due while a replica is down.
    await asyncio.to_thread(killer.join)
    killer.after(rng.uniform(0.5, ACK_TIMEOUT_S), "while the ladder moves on")
    await _wait_two_steps_sent(dsn, replicas)
    await asyncio.to_thread(killer.join)
    await _wait_orphans_settled(dsn)
    # Stop sending: a SIGTERM lets each replica record the batch in flight and nothing more, so
    # no page is `sending` when the books are checked.
    unclean = [i for i, server in enumerate(replicas) if not server.stop(grace_s=20.0)]
    assert unclean == [], f"replicas {unclean} did not shut down within 20 s"
    rows = await _page_rows(dsn)
    print(f"fired {SYSTEMS} in {fired_s:.1f}s; {killer.done}; {len(rows)} page rows")

    keys = Counter(
        (r["incident_id"], r["cycle"], r["step"], r["round"], r["engineer"], r["channel"])
        for r in rows
    )
    assert [key for key, count in keys.items() if count > 1] == [], "a step paged twice"
    assert {r["channel"] for r in rows} == {"sms"}
    by_incident: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_incident.setdefault(row["incident_id"], []).append(row)
    for incident_id, index in incidents.items():
        first_two = [
            (r["step"], r["engineer"], r["status"])
            for r in by_incident.get(incident_id, [])
            if r["round"] == 0 and r["step"] < 2 and r["kind"] == "page"
        ]
        assert first_two == [(0, f"e{index:03d}", "sent"), (1, f"f{index:03d}", "sent")], (
            f"incident {incident_id}: {first_two}"
        )
    assert not [r for r in rows if r["status"] in ("sending", "failed")], "a page is stuck"

    # No SMS settles two pages (outside the lead's bundles): a stuck row recovered by
    # `find_sent` must not borrow the SID of a later page's identical SMS.
    shared = Counter(r["provider_id"] for r in rows if r["provider_id"] and r["engineer"] != "anna")
    borrowed = [
        (sid, [r["id"] for r in rows if r["provider_id"] == sid])
        for sid, n in shared.items()
        if n > 1
    ]
    assert borrowed == [], f"one SMS recorded as the delivery of several pages: {borrowed}"
    # Each expert is paged for one incident only: one SMS per sent page, naming that incident.
    messages = list(twilio_fake.messages)
    sent_to: Counter[str] = Counter(m.to for m in messages)
    for incident_id, index in incidents.items():
        for kind in ("e", "f"):
            engineer = f"{kind}{index:03d}"
            pages = [
                r
                for r in by_incident[incident_id]
                if r["engineer"] == engineer and r["status"] == "sent"
            ]
            phone = _phone(kind, index)
            assert sent_to[phone] == len(pages), (
                f"{engineer}: {sent_to[phone]} SMS for {len(pages)} sent pages"
            )
            assert all(f"#{incident_id}]" in m.body for m in messages if m.to == phone)
    # The lead's pages (step 3, where reached) go out bundled and summarised ("N more: …"):
    # they are covered by the one-row-per-key check above, not counted per SMS.

    by_log = [len(_ACCEPTED.findall(server.log_path.read_text())) for server in replicas]
    assert min(by_log) > 0, f"a replica sent nothing: {by_log}"
    assert len(killer.done) == 2, killer.done
    print(f"SMS accepted per replica: {by_log}; took {time.monotonic() - started:.1f}s")
