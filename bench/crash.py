"""Crash test: SIGKILL the service under load and check that nothing was lost or doubled.

Runs `skillpager serve` on SQLite with a fast ladder (ack_timeout 2s, exhausted_every 2s, so
every open incident pages a step every 2 seconds) and Twilio pointed at a `TwilioFake`, while an
asyncio/httpx loop posts unique critical alerts for 20 systems. The service dies five times:
twice by SIGKILL at a random moment, and once at each crash-test failpoint
(`after_commit_before_202`, `after_claim`, `after_provider_accept`: restarted with the failpoint
on, it exits 137 by itself, and is restarted normally). After the last restart the ladders run a
few more steps, the load stops, the service is stopped, and the database file and the fake are
checked:

- every alert whose POST got a 2xx is stored (its dedup key);
- every incident's pages run the ladder from its start, one position after the other, with no
  position missing, none early (steps are ack_timeout apart), none doubled, and the ladder still
  running at the end;
- the fake received exactly one SMS per sent SMS page row (a bundle carries several page ids).

Prints the counts and exits 1 on any violation. Usage: `.venv/bin/python -m bench.crash`.
"""

import argparse
import asyncio
import itertools
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# The crash test's own ladder and fakes (needs the repo root on the path).
from tests.fakes.twilio_server import TwilioFake
from tests.support.alertmanager import firing_alert, webhook_message
from tests.support.ladder import LADDER, LADDER_RULES, PHONES
from tests.support.providers import twilio_env
from tests.support.server import ServerProcess, ServerStartFailed

ACK_TIMEOUT_S = 2
SYSTEMS = [f"sys{n:02d}" for n in range(20)]
FAILPOINTS = ("after_commit_before_202", "after_claim", "after_provider_accept")
EARLY_SLACK_S = 0.05
LATE_SLACK_S = 5.0  # a tick on a busy machine; restarts are accounted for separately
REPEAT = 1  # rules_ladder's `repeat`


def _rules(directory: Path) -> Path:
    """rules_ladder with 20 postgres systems and a ladder that steps every ACK_TIMEOUT_S."""
    rules = directory / "rules"
    shutil.copytree(LADDER_RULES, rules)
    policy = (rules / "policy.yaml").read_text()
    assert "ack_timeout: 5m" in policy
    assert "exhausted_every: 30m" in policy
    policy = policy.replace("ack_timeout: 5m", f"ack_timeout: {ACK_TIMEOUT_S}s")
    policy = policy.replace("exhausted_every: 30m", f"exhausted_every: {ACK_TIMEOUT_S}s")
    (rules / "policy.yaml").write_text(policy)
    systems = ["systems:"]
    for name in SYSTEMS:
        systems += [
            f"  {name}:",
            "    customer: acme",
            "    skills: [postgres]",
            "    match:",
            f"      - {{service: {name}}}",
        ]
    (rules / "systems.yaml").write_text("\n".join(systems) + "\n")
    return rules


def _position(index: int) -> tuple[int, int, tuple[str, ...]]:
    """The ladder's index-th position: (round, step, engineers)."""
    full = len(LADDER) * (REPEAT + 1)
    if index < full:
        round_, step = divmod(index, len(LADDER))
        return round_, step, LADDER[step]
    return REPEAT + 1 + index - full, 0, ("anna",)


class Load:
    """Posts unique critical alerts round-robin over SYSTEMS; remembers the 2xx-acknowledged."""

    def __init__(self, server: ServerProcess, concurrency: int) -> None:
        self.server = server
        self.concurrency = concurrency
        self.acknowledged: set[str] = set()
        self.posted = 0
        self.failed = 0
        self._serial = itertools.count()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            await asyncio.gather(*(self._worker(client) for _ in range(self.concurrency)))

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            n = next(self._serial)
            system = SYSTEMS[n % len(SYSTEMS)]
            fingerprint = f"crash-{n}"
            alert = firing_alert(
                fingerprint,
                f"{system} load {n}",
                alertname="CrashLoad",
                service=system,
                n=str(n),
                severity="critical",
            )
            message = webhook_message("CrashLoad", [alert])
            self.posted += 1
            try:
                response = await client.post(
                    f"{self.server.base_url}/webhooks/alertmanager",
                    json=message,
                    headers=self.server.webhook_headers(),
                )
            except httpx.TransportError:
                self.failed += 1
                await asyncio.sleep(0.05)
                continue
            if 200 <= response.status_code < 300:
                self.acknowledged.add(f"alertmanager:{fingerprint}")
            else:
                self.failed += 1
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.02)


class _TimedServer(ServerProcess):
    """A server that records its downtimes: from each SIGKILL to the end of the next start."""

    def __init__(self, directory: Path, *, env: dict[str, str]) -> None:
        super().__init__(directory, env=env)
        self.downtimes: list[tuple[datetime, datetime]] = []
        self._down_since: list[datetime] = []

    def kill(self) -> None:
        """SIGKILL, noting the moment."""
        self._down_since.append(datetime.now(UTC))
        super().kill()

    def start(self, *, timeout_s: float = 20.0) -> None:
        """Start, closing the downtime the last kill opened (even when the start fails)."""
        try:
            super().start(timeout_s=timeout_s)
        finally:
            if self._down_since:
                self.downtimes.append((self._down_since.pop(), datetime.now(UTC)))


def _start(server: ServerProcess) -> int | None:
    """Start the server; None when ready, the exit code when a failpoint beat `/readyz`."""
    try:
        server.start()
    except ServerStartFailed as failed:
        text = str(failed)
        if text.startswith("server exited with 137"):
            return 137
        raise
    return None


async def _crashes(server: ServerProcess, rng: random.Random, log: list[str]) -> None:
    """Two random SIGKILLs and one exit at each failpoint, in a shuffled order."""
    plan: list[str | None] = [None, None, *FAILPOINTS]
    rng.shuffle(plan)
    for failpoint in plan:
        await asyncio.sleep(rng.uniform(2.0, 5.0))
        server.kill()
        if failpoint is None:
            log.append("SIGKILL at a random moment")
            await asyncio.to_thread(server.start)
            continue
        server.update_env({"SKILLPAGER_TESTING": "1", "SKILLPAGER_FAILPOINT": failpoint})
        log.append(f"SIGKILL to restart with {failpoint}")
        code = await asyncio.to_thread(_start, server)
        if code is None:
            code = await asyncio.to_thread(server.wait_exit, timeout_s=30.0)
        if code != 137:
            raise SystemExit(f"{failpoint}: exit {code}, expected 137:\n{server.log_tail()}")
        log.append(f"{failpoint}: exited 137 by itself")
        server.update_env({"SKILLPAGER_TESTING": None, "SKILLPAGER_FAILPOINT": None})
        await asyncio.to_thread(server.start)


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _settle(database: Path, timeout_s: float = 20.0) -> None:
    """Wait until no page is in flight or due (what the fake got matches the rows)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
            busy = conn.execute(
                "SELECT count(*) FROM pages WHERE status IN ('sending', 'bundled')"
                " OR (status = 'pending' AND next_attempt_at <= ?)",
                (datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),),
            ).fetchone()[0]
        if not busy:
            return
        time.sleep(0.1)


def _verify(
    database: Path,
    fake: TwilioFake,
    acknowledged: set[str],
    downtimes: list[tuple[datetime, datetime]],
    stopped_at: datetime,
) -> tuple[dict[str, int], list[str]]:
    problems: list[str] = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
        stored = {key for (key,) in conn.execute("SELECT dedup_key FROM alerts")}
        alert_rows = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        incidents = conn.execute("SELECT id, state FROM incidents").fetchall()
        pages = conn.execute(
            "SELECT id, incident_id, cycle, round, step, engineer, channel, kind, status,"
            " provider_id, created_at, address FROM pages ORDER BY id"
        ).fetchall()

    missing = acknowledged - stored
    if missing:
        problems.append(f"{len(missing)} acknowledged alerts not stored: {sorted(missing)[:5]}")
    dup_keys = alert_rows - len(stored)

    keys = Counter((p[1], p[2], p[4], p[3], p[5], p[6]) for p in pages if p[7] == "page")
    doubled = [key for key, count in keys.items() if count > 1]
    if doubled:
        problems.append(f"{len(doubled)} page rows doubled: {doubled[:5]}")

    by_incident: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for page in pages:
        if page[7] == "page":
            by_incident[page[1]].append(page)
    for incident_id, state in incidents:
        rows = by_incident.get(incident_id, [])
        if not rows:
            problems.append(f"incident {incident_id} ({state}) has no page")
            continue
        per_cycle: dict[int, dict[tuple[int, int], list[tuple[Any, ...]]]] = defaultdict(dict)
        for row in rows:
            per_cycle[row[2]].setdefault((row[3], row[4]), []).append(row)
        for cycle, positions in per_cycle.items():
            for index, ((round_, step), at) in enumerate(sorted(positions.items())):
                want_round, want_step, engineers = _position(index)
                if (round_, step) != (want_round, want_step):
                    problems.append(
                        f"incident {incident_id} cycle {cycle}: position {index} is "
                        f"({round_}, {step}), expected ({want_round}, {want_step})"
                    )
                    break
                got = sorted(str(row[5]) for row in at)
                if got != sorted(engineers):
                    problems.append(
                        f"incident {incident_id} ({round_}, {step}) paged {got}, expected "
                        f"{sorted(engineers)}"
                    )
            moments = [min(_utc(str(row[10])) for row in at) for _, at in sorted(positions.items())]
            for before, after in itertools.pairwise(moments):
                gap = (after - before).total_seconds()
                down = sum(
                    (min(end, after) - max(start, before)).total_seconds()
                    for start, end in downtimes
                    if start < after and end > before
                )
                if gap < ACK_TIMEOUT_S - EARLY_SLACK_S:
                    problems.append(f"incident {incident_id}: a step came {gap:.2f}s early")
                elif gap > ACK_TIMEOUT_S + LATE_SLACK_S + down:
                    problems.append(
                        f"incident {incident_id}: a step came {gap:.2f}s after the last one "
                        f"(down {down:.1f}s meanwhile): a step was lost or stalled"
                    )
            if state == "open" and cycle == max(per_cycle):
                idle = (stopped_at - moments[-1]).total_seconds()
                if idle > ACK_TIMEOUT_S + LATE_SLACK_S:
                    problems.append(f"incident {incident_id}: ladder idle {idle:.1f}s at the end")

    sms_rows = [p for p in pages if p[6] == "sms" and p[8] in ("sent", "delivered")]
    carried: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in sms_rows:
        if row[9] is None:
            problems.append(f"page {row[0]} is sent without a provider id")
        else:
            carried[str(row[9])].append(row)
    messages = {message.sid: message for message in fake.messages}
    for sid, rows in carried.items():
        message = messages.get(sid)
        if message is None:
            problems.append(f"pages {[r[0] for r in rows]} name {sid}, which Twilio never got")
        elif {str(r[11]) for r in rows} != {message.to}:
            problems.append(f"{sid} went to {message.to}, its pages to {[r[11] for r in rows]}")
    orphans = [m for m in fake.messages if m.sid not in carried]
    if orphans:
        problems.append(
            f"{len(orphans)} SMS at Twilio belong to no sent page (sent twice?): "
            f"{[(m.to, m.body[:60]) for m in orphans[:3]]}"
        )
    unsettled = Counter(str(p[8]) for p in pages if p[8] not in ("sent", "delivered"))
    counts = {
        "alerts_acknowledged": len(acknowledged),
        "alerts_stored": len(stored),
        "alert_rows_sharing_a_dedup_key": dup_keys,
        "incidents": len(incidents),
        "page_rows": len(pages),
        "sms_page_rows_sent": len(sms_rows),
        "sms_at_twilio": len(fake.messages),
        "bundled_sms": sum(1 for rows in carried.values() if len(rows) > 1),
        "unsent_page_rows": sum(unsettled.values()),
    }
    for phone in {m.to for m in fake.messages} - set(PHONES.values()):
        problems.append(f"an SMS went to an unknown number {phone}")
    return counts, problems


async def _main(seed: int, settle_s: float, concurrency: int) -> int:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="skillpager-crash-") as tmp, TwilioFake() as fake:
        directory = Path(tmp)
        env = twilio_env(fake, throttle=False, SKILLPAGER_RULES_DIR=str(_rules(directory)))
        (directory / "server").mkdir()
        server = _TimedServer(directory / "server", env=env)
        log: list[str] = []
        started = time.monotonic()
        server.start()
        load = Load(server, concurrency)
        loader = asyncio.create_task(load.run())
        try:
            await _crashes(server, rng, log)
            await asyncio.sleep(settle_s)  # the ladders run a few steps after the last restart
        finally:
            load.stop()
            await loader
        await asyncio.to_thread(_settle, server.database_path)
        stopped_at = datetime.now(UTC)
        server.stop()
        counts, problems = _verify(
            server.database_path, fake, load.acknowledged, server.downtimes, stopped_at
        )
        counts["posts"] = load.posted
        counts["posts_without_2xx"] = load.failed
        counts["random_sigkills"] = sum(1 for line in log if "random" in line)
        counts["failpoint_exits_137"] = sum(1 for line in log if "exited 137" in line)
        counts["kills"] = counts["random_sigkills"] + counts["failpoint_exits_137"]
        counts["sigkills_to_enable_a_failpoint"] = len(FAILPOINTS)
        counts["seconds"] = round(time.monotonic() - started)
        for line in log:
            print(f"crash: {line}")
        for name, value in counts.items():
            print(f"{name}: {value}")
        for problem in problems:
            print(f"VIOLATION: {problem}")
        if problems:
            print(f"FAILED: {len(problems)} violations (server log: see above)")
            return 1
        print("OK")
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--settle", type=float, default=3 * ACK_TIMEOUT_S + 1)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"seed: {seed}")
    sys.exit(asyncio.run(_main(seed, args.settle, args.concurrency)))


if __name__ == "__main__":
    main()
