"""Paging latency benchmark: webhook 202 → the SMS reaching (fake) Twilio, on SQLite.

Generates a rules dir with --systems systems (sNNNN, matched by label `service=sNNNN`, needing
skill kNNNN that only engineer eNNNN has, so each first page is its own SMS), starts
`skillpager serve` on a fresh SQLite file with Twilio pointed at an in-process fake that stamps
each message's arrival, throttle off. Then posts --incidents critical alerts, one per system, at
--rate per second (open loop: each post is scheduled on the clock, not after the previous
answer) and prints p50/p90/p99/max of:

- 202 → SMS   the figure that matters (target p99 < 100 ms)
- post → 202  ingest latency (commit before 2xx)
- post → SMS  what the monitor-to-phone path costs in total

and, from the page rows in the file afterwards, where the server spent the time: incident opened
(writer commit) → page row written (kick + tick) → row claimed (sender) → SMS at Twilio (SDK +
HTTP) → row recorded sent.

    .venv/bin/python bench/paging.py [--incidents 1000] [--rate 50] [--keep] [--profile DIR]

`--profile DIR` records the server with py-spy (install it yourself; non-blocking sampling)
into DIR/paging.txt as collapsed stacks. Exit status 1 when an SMS never arrived.
"""

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import httpx

from tests.fakes import FakeResponse, RecordedRequest
from tests.fakes.twilio_server import TwilioFake
from tests.support.alertmanager import service_down
from tests.support.providers import twilio_env
from tests.support.server import ServerProcess

TARGET_P99_MS = 100.0
_WARMUP = 20  # extra systems paged before measuring: first-request costs are not the figure
_ARRIVAL_WAIT_S = 30.0


class TimedTwilio(TwilioFake):
    """The Twilio fake, stamping when each accepted message arrived (wall and perf clocks)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, tuple[float, float]] = {}  # To → (perf_counter, time.time)

    def route(self, request: RecordedRequest) -> FakeResponse:
        """Stamp first, then answer like Twilio."""
        stamp = (time.perf_counter(), time.time())
        response = super().route(request)
        if request.method == "POST" and response.status == 201:
            self.arrived.setdefault(request.form["To"], stamp)
        return response


@dataclass
class Post:
    """One webhook post as the load generator saw it (perf_counter seconds)."""

    index: int
    sent: float = 0.0
    answered: float = 0.0
    status: int = 0
    incident_id: int | None = None
    answered_wall: float = 0.0
    errors: list[str] = field(default_factory=list)


def phone(index: int) -> str:
    """Engineer eNNNN's number."""
    return f"+1202{index:07d}"


def write_rules(directory: Path, systems: int) -> Path:
    """policy/systems/team YAML: system sNNNN needs kNNNN, which only eNNNN has (level 5)."""
    rules = directory / "rules"
    rules.mkdir()
    (rules / "policy.yaml").write_text(
        "ack_timeout: 5m\nnotify: {critical: always, warning: always, info: never}\n"
    )
    with (rules / "systems.yaml").open("w") as out:
        out.write("systems:\n")
        for i in range(systems):
            out.write(f"  s{i:04d}:\n    skills: [k{i:04d}]\n    match:\n")
            out.write(f"      - {{service: s{i:04d}}}\n")
    with (rules / "team.yaml").open("w") as out:
        out.write('lead: anna\nengineers:\n  anna: {phone: "+46701112233"}\n')
        for i in range(systems):
            out.write(f'  e{i:04d}: {{phone: "{phone(i)}", skills: {{k{i:04d}: 5}}}}\n')
    return rules


def message(index: int) -> dict[str, object]:
    """An Alertmanager v4 body with one critical alert for system sNNNN."""
    name = f"s{index:04d}"
    return service_down("BenchDown", name, f"bench-{name}")


async def post_all(
    server: ServerProcess, indexes: list[int], rate: float
) -> tuple[list[Post], float]:
    """Post one alert per index at `rate`/s on a fixed schedule; the posts and the wall time."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    posts = [Post(index) for index in indexes]
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=server.webhook_headers(), limits=limits, timeout=30.0
    ) as client:

        async def one(post: Post, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            post.sent = time.perf_counter()
            try:
                response = await client.post("/webhooks/alertmanager", json=message(post.index))
            except httpx.HTTPError as exc:
                post.errors.append(f"{type(exc).__name__}: {exc}")
                return
            post.answered = time.perf_counter()
            post.answered_wall = time.time()
            post.status = response.status_code
            if response.status_code == 202:
                post.incident_id = response.json()["incidents"][0]
            else:
                post.errors.append(response.text[:200])

        begin = time.perf_counter() + 0.2
        await asyncio.gather(*(one(post, begin + n / rate) for n, post in enumerate(posts)))
        return posts, time.perf_counter() - begin


def wait_arrivals(fake: TimedTwilio, phones: set[str]) -> None:
    deadline = time.monotonic() + _ARRIVAL_WAIT_S
    while time.monotonic() < deadline and not phones <= fake.arrived.keys():
        time.sleep(0.05)


def percentiles(values: list[float]) -> str:
    """`p50 … p90 … p99 … max …` in ms (values in seconds)."""
    if not values:
        return "no samples"
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return (
        f"p50 {at(0.50):7.1f}  p90 {at(0.90):7.1f}  p99 {at(0.99):7.1f}  "
        f"max {ordered[-1] * 1000:7.1f}  mean {statistics.fmean(ordered) * 1000:7.1f} ms"
    )


def stages(database: Path, posts: list[Post], fake: TimedTwilio) -> dict[str, list[float]]:
    """Server-side stage durations from the page rows (wall clock; same machine)."""
    wanted = {post.incident_id: post for post in posts if post.incident_id is not None}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT i.id, i.opened_at, p.created_at, p.claimed_at, p.sent_at, p.address"
            " FROM pages p JOIN incidents i ON i.id = p.incident_id WHERE p.kind = 'page'"
        ).fetchall()
    found: dict[str, list[float]] = {
        "opened → 202 read (writer commit, answer)": [],
        "opened → page row (kick + tick)": [],
        "page row → claimed (sender claim)": [],
        "claimed → at Twilio (SDK + HTTP)": [],
        "at Twilio → recorded sent": [],
    }
    for incident_id, opened, created, claimed, sent, address in rows:
        post = wanted.get(incident_id)
        arrival = fake.arrived.get(address)
        if post is None or arrival is None or None in (claimed, sent):
            continue
        opened_s, created_s, claimed_s, sent_s = (
            _epoch(v) for v in (opened, created, claimed, sent)
        )
        found["opened → 202 read (writer commit, answer)"].append(post.answered_wall - opened_s)
        found["opened → page row (kick + tick)"].append(created_s - opened_s)
        found["page row → claimed (sender claim)"].append(claimed_s - created_s)
        found["claimed → at Twilio (SDK + HTTP)"].append(arrival[1] - claimed_s)
        found["at Twilio → recorded sent"].append(sent_s - arrival[1])
    return found


def _epoch(value: str) -> float:
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def start_profiler(pid: int, directory: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy on the server for the measured run, as collapsed stacks (flamegraph.pl input).

    --nonblocking: py-spy does not pause the server to sample it, so the figures printed stay
    close to an unprofiled run (a blocking py-spy multiplies them several times).
    """
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds) + 1),
            "--rate",
            "200",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(directory / "paging.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    # Fields 14 and 15 of proc(5) (utime, stime), counted after the ")" closing the name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_env(rules: Path, fake: TwilioFake) -> dict[str, str]:
    """SKILLPAGER_* settings: these rules, Twilio at the fake, SMS throttle off."""
    return twilio_env(fake, throttle=False, SKILLPAGER_RULES_DIR=str(rules))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="incidents per second")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (db, log, rules)")
    parser.add_argument("--profile", type=Path, help="record the server with py-spy into DIR")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="skillpager-bench-paging-"))
    systems = args.incidents + _WARMUP
    rules = write_rules(workdir, systems)
    failed = False
    with TimedTwilio() as fake:
        server = ServerProcess(workdir, env=server_env(rules, fake))
        try:
            server.start(timeout_s=60)
            warmup = list(range(args.incidents, systems))
            asyncio.run(post_all(server, warmup, rate=args.rate))
            wait_arrivals(fake, {phone(i) for i in warmup})

            profiler = None
            if args.profile:
                profiler = start_profiler(server.pid, args.profile, args.incidents / args.rate)
                time.sleep(1.0)  # py-spy attaches
            measured = list(range(args.incidents))
            cpu_before = cpu_seconds(server.pid)
            posts, elapsed = asyncio.run(post_all(server, measured, rate=args.rate))
            wait_arrivals(fake, {phone(i) for i in measured})
            cpu = cpu_used(server.pid, cpu_before)
            if profiler is not None:
                profiler.wait(timeout=120)
        finally:
            server.stop()
        failed = report(posts, elapsed, fake, server, args, cpu_s=cpu)
    if args.keep:
        print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


def cpu_used(pid: int, before: float | None) -> float | None:
    """CPU seconds the process used since `before` (None when unknown)."""
    after = cpu_seconds(pid)
    return None if before is None or after is None else after - before


def report(
    posts: list[Post],
    elapsed: float,
    fake: TimedTwilio,
    server: ServerProcess,
    args: object,
    *,
    cpu_s: float | None = None,
) -> bool:
    """Print the figures; True when something was lost."""
    ok = [post for post in posts if post.status == 202]
    to_sms = []
    post_to_sms = []
    for post in ok:
        arrival = fake.arrived.get(phone(post.index))
        if arrival is not None:
            to_sms.append(arrival[0] - post.answered)
            post_to_sms.append(arrival[0] - post.sent)
    missing = len(ok) - len(to_sms)
    errors = [error for post in posts for error in post.errors]
    print(
        f"paging bench: {len(posts)} incidents on {len(posts)} systems, "
        f"offered {len(posts) / elapsed:.1f}/s (asked {getattr(args, 'rate', '?')}/s), "
        f"SQLite, throttle off"
    )
    print(f"  202 answers {len(ok)}/{len(posts)}; SMS at Twilio {len(to_sms)}; missing {missing}")
    print(f"  202 → SMS   {percentiles(to_sms)}")
    print(f"  post → 202  {percentiles([p.answered - p.sent for p in ok])}")
    print(f"  post → SMS  {percentiles(post_to_sms)}")
    if cpu_s is not None and posts:
        per = cpu_s / len(posts) * 1000
        busy = cpu_s / elapsed * 100
        print(f"  server CPU  {cpu_s:.2f} s ({busy:.0f} % of a core), {per:.1f} ms per incident")
    early = sum(1 for value in to_sms if value < 0)
    if early:
        print(f"  ({early} SMS reached Twilio before the client had read its 202)")
    print("  server stages (wall clock, from the page rows):")
    for name, values in stages(server.database_path, ok, fake).items():
        print(f"    {name:42s} {percentiles(values)}")
    if to_sms:
        p99 = sorted(to_sms)[min(len(to_sms) - 1, round(0.99 * (len(to_sms) - 1)))] * 1000
        verdict = "meets" if p99 < TARGET_P99_MS else "MISSES"
        print(f"  p99 202 → SMS {p99:.1f} ms {verdict} the target of {TARGET_P99_MS:.0f} ms")
    if errors:
        print(f"  errors: {len(errors)}, first: {errors[:3]}")
    return missing > 0 or bool(errors)


if __name__ == "__main__":
    sys.exit(main())
