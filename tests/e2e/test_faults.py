"""Fault injection: the store or the paging providers go away for a while, and come back.

- SQLite locked by another process for 5 s (BEGIN EXCLUSIVE held in a subprocess) while a client
  keeps posting: every answer is 202 or 503 with Retry-After, every 202's alerts are stored, and
  the service answers 202 again by itself once the lock is gone (in-process app, real SQLite).
- A private PostgreSQL cluster (initdb/pg_ctl into a temp dir on a free loopback port, never the
  machine's shared server) restarted under a running `skillpager serve`: 503s during the outage,
  202s afterwards, no 2xx without a committed row.
- Twilio and Slack answering 500 for two (simulated) minutes: pages wait and retry, none is lost;
  every page ends `sent` and each went out once (in-process app on a FrozenClock).
"""

import asyncio
import contextlib
import glob
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.clock import FrozenClock
from tests.fakes.slack_server import SlackFake
from tests.fakes.twilio_server import TwilioFake
from tests.support.app import app_settings, fire_critical, incident_pages, running_app
from tests.support.providers import provider_settings
from tests.support.requirements import unavailable
from tests.support.server import ServerProcess, free_port

pytestmark = pytest.mark.slow

CHANNEL_RULES = Path(__file__).resolve().parents[1] / "fixtures" / "rules_channels"
LOCK_S = 5.0

HOLD_LOCK_FOR = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
print("released", flush=True)
"""


@dataclass
class Answers:
    """What a posting client saw: statuses, and the alert ids every 202 promised."""

    statuses: Counter[int] = field(default_factory=Counter)
    promised: list[int] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    last_status: int | None = None

    def record(self, response: httpx.Response) -> None:
        status = response.status_code
        self.statuses[status] += 1
        self.last_status = status
        if status == 202:
            self.promised.extend(response.json()["alerts"])
        elif status == 503:
            if not response.headers.get("retry-after"):
                self.bad.append(f"503 without Retry-After: {response.text[:200]}")
        else:
            self.bad.append(f"{status}: {response.text[:300]}")


def _alert(index: int) -> str:
    return json.dumps(
        {"summary": f"fault {index}", "severity": "warning", "dedup_key": f"fault-{index}"}
    )


# -- (a) SQLite locked by another process -----------------------------------------------------


async def test_sqlite_locked_for_five_seconds_gives_503s_then_202s_and_no_lost_alert(
    sqlite_database: str,
) -> None:
    path = sqlite_database.removeprefix("sqlite+aiosqlite:///")
    answers = Answers()
    settings = app_settings(sqlite_database, db_timeout_s=1.0)
    async with running_app(settings) as app:
        locker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HOLD_LOCK_FOR, path, str(LOCK_S), stdout=asyncio.subprocess.PIPE
        )
        assert locker.stdout is not None
        try:
            assert (await locker.stdout.readline()).strip() == b"locked"
            index = 0
            released_at: float | None = None
            recovered_at: float | None = None
            released = asyncio.create_task(locker.stdout.readline())
            deadline = time.monotonic() + LOCK_S + 15.0
            while time.monotonic() < deadline:
                index += 1
                answers.record(
                    await app.client.post(
                        "/webhooks/generic", content=_alert(index), headers=app.webhook_headers()
                    )
                )
                if released_at is None and released.done():
                    assert released.result().strip() == b"released"
                    released_at = time.monotonic()
                if released_at is not None and answers.last_status == 202:
                    recovered_at = time.monotonic()
                    # A few more after recovery: it stays recovered.
                    for extra in range(5):
                        answers.record(
                            await app.client.post(
                                "/webhooks/generic",
                                content=_alert(index + 1 + extra),
                                headers=app.webhook_headers(),
                            )
                        )
                    break
        finally:
            if locker.returncode is None:
                locker.kill()
            await locker.wait()

    assert answers.bad == [], answers.bad
    assert answers.statuses[503] >= 2, f"the lock must have been felt: {answers.statuses}"
    assert released_at is not None, "the locker never released"
    assert recovered_at is not None, f"no 202 after the lock was released: {answers.statuses}"
    assert recovered_at - released_at < 5.0, "the service took too long to recover by itself"
    assert answers.last_status == 202, answers.statuses
    with closing(sqlite3.connect(path)) as db:
        stored = {row[0] for row in db.execute("SELECT id FROM alerts")}
    missing = sorted(set(answers.promised) - stored)
    assert missing == [], f"202 answered but alerts not stored: {missing}"


# -- (b) a private PostgreSQL cluster restarted under the service ------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PrivateCluster:
    """A throwaway PostgreSQL cluster in a temp dir on a free 127.0.0.1 port (trust auth)."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        self.initdb = initdb
        self.pg_ctl = pg_ctl
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="skillpager-pg."))
        self.data = self.directory / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.directory, user="postgres")
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        command = list(args)
        if self._as_postgres:
            command = ["su", "postgres", "-c", " ".join(_quote(a) for a in command)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def init(self) -> None:
        self._run(self.initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
        self._run(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"),
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


def _quote(arg: str) -> str:
    return shlex.quote(arg)


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A private cluster; skipped without initdb (failed under CI)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        unavailable("initdb/pg_ctl are not installed (apt-get install postgresql)")
    cluster = PrivateCluster(initdb, pg_ctl)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def _post_until(client: httpx.Client, answers: Answers, start_index: int, stop: float) -> int:
    index = start_index
    while time.monotonic() < stop:
        index += 1
        try:
            answers.record(client.post("/webhooks/generic", content=_alert(index)))
        except httpx.TransportError as exc:  # the service itself must stay up
            answers.bad.append(f"transport error: {exc!r}")
        time.sleep(0.02)
    return index


def test_postgres_restart_gives_503s_then_recovers_without_lost_alerts(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    server = ServerProcess(
        tmp_path,
        database_url=private_postgres.url,
        env={"SKILLPAGER_DB_TIMEOUT_S": "1.0"},
    )
    before, during, after = Answers(), Answers(), Answers()
    with (
        server,
        httpx.Client(
            base_url=server.base_url, headers=server.webhook_headers(), timeout=15.0
        ) as client,
    ):
        index = _post_until(client, before, 0, time.monotonic() + 1.0)
        private_postgres.stop()
        index = _post_until(client, during, index, time.monotonic() + 3.0)
        private_postgres.start()
        # Recovery by itself: keep posting until a 202, then a little longer.
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and after.statuses[202] < 20:
            index = _post_until(client, after, index, time.monotonic() + 0.5)
        log = server.log_tail()

    assert before.bad == [], before.bad
    assert before.statuses.keys() == {202}, before.statuses
    assert during.bad == [], f"{during.bad[:5]}\n{log}"
    assert during.statuses[503] > 0, f"no 503 while PostgreSQL was down: {during.statuses}"
    assert after.bad == [], f"{after.bad[:5]}\n{log}"
    assert after.statuses[202] >= 20, f"no recovery after PostgreSQL came back: {after.statuses}"
    assert after.last_status == 202

    promised = set(before.promised + during.promised + after.promised)
    stored = asyncio.run(_alert_ids(private_postgres.url))
    assert sorted(promised - stored) == [], "202 answered but alerts not committed"


async def _alert_ids(url: str) -> set[int]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        return {row[0] for row in await conn.fetch("SELECT id FROM alerts")}
    finally:
        await conn.close()


# -- (c) Twilio and Slack answering 500 for two minutes -----------------------------------------

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
OUTAGE_S = 120


async def test_providers_answering_500_for_two_minutes_delay_pages_and_lose_none(
    sqlite_database: str, twilio_fake: TwilioFake, slack_fake: SlackFake
) -> None:
    clock = FrozenClock(START)
    settings = provider_settings(sqlite_database, twilio_fake, slack_fake, rules_dir=CHANNEL_RULES)
    twilio_fake.fail_with_status(500, times=None)
    slack_fake.fail_with_status(500, times=None)
    async with running_app(settings, clock) as app:
        # Unrouted → the lead anna (SMS and Slack); service=db → sam (SMS only).
        incidents = [
            await fire_critical(app, "disk", {"alertname": "DiskFull"}, settle=False),
            await fire_critical(app, "db-down", {"service": "db"}, settle=False),
            await fire_critical(app, "cert", {"alertname": "CertExpiry"}, settle=False),
        ]
        await app.services.escalation.settle()
        for _ in range(OUTAGE_S // 2):
            clock.advance(timedelta(seconds=2))
            await app.services.escalation.cycle()
        during = [p for i in incidents for p in await incident_pages(app, i)]
        assert twilio_fake.messages == []
        assert slack_fake.messages == []
        assert any(r.method == "POST" for r in twilio_fake.requests), "no SMS was even tried"

        twilio_fake.clear_faults()
        slack_fake.clear_faults()
        # Backoff caps at 1 minute: five minutes after the outage covers every retry.
        for _ in range(60):
            clock.advance(timedelta(seconds=5))
            await app.services.escalation.cycle()
        after = {i: await incident_pages(app, i) for i in incidents}

    shape = sorted((p["engineer"], p["channel"], p["status"]) for p in during)
    assert all(p["status"] != "failed" for p in during), (
        f"pages failed during a {OUTAGE_S}s provider outage (retries gave up): {shape}"
    )
    statuses = {
        i: sorted((p["engineer"], p["channel"], p["kind"], p["status"]) for p in found)
        for i, found in after.items()
    }
    for incident_id, found in statuses.items():
        assert found, incident_id
        assert all(status == "sent" for *_, status in found), (incident_id, found)
    pages = [{**p, "incident_id": i} for i, found in after.items() for p in found]
    sms_pages = [p for p in pages if p["channel"] == "sms"]
    slack_pages = [p for p in pages if p["channel"] == "slack"]
    # An engineer's SMS due together may be bundled into one message, and the ladder may page
    # an incident again (its next step): each SMS page row is in exactly one message.
    for incident_id in incidents:
        rows = [p for p in sms_pages if p["incident_id"] == incident_id]
        naming = [
            m.body for m in twilio_fake.messages if re.search(rf"#{incident_id}\D", m.body + " ")
        ]
        assert len(naming) == len(rows), f"incident {incident_id}: {len(rows)} SMS pages, {naming}"
    assert len(slack_fake.messages) == len(slack_pages), [m.channel for m in slack_fake.messages]
    assert {m.to for m in twilio_fake.messages} == {"+46701112233", "+46709990000"}
