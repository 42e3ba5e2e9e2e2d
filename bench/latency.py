"""Paging latency under background load: webhook 202 → SMS at (fake) Twilio, p50/p99.

bench/paging.py's measurement (its rules, its Twilio fake, its open-loop poster and report: one
critical alert per system sNNNN at --rate per second, each system's first page its own SMS,
throttle off) while a second process posts unique alerts at a steady background rate to other
systems: --background-systems systems bNNNN, round robin, --background-batch alerts a request
(each system with its own engineer, so the first alert of each opens an incident and pages;
later ones, all with new fingerprints, join it). The background starts --background-warmup
seconds before paging.py's warm-up, so those first pages are out of the way, and runs until the
last measured SMS arrived; its achieved rate is printed next to the asked one (it falls behind
when the server cannot keep up). One fresh server per background rate in --loads; a rate of 0 is
the reference run without background.

    .venv/bin/python bench/latency.py [--loads 0,50,500] [--incidents 500] [--rate 50]

Exit status 1 when an SMS never arrived or a post failed (measured or background).
"""

import argparse
import asyncio
import multiprocessing
import multiprocessing.synchronize
import secrets
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import httpx

from bench.paging import (
    _WARMUP,
    TimedTwilio,
    cpu_seconds,
    cpu_used,
    percentiles,
    phone,
    post_all,
    report,
    server_env,
    wait_arrivals,
    write_rules,
)
from tests.support.server import ServerProcess

_IN_FLIGHT = 64  # background requests in flight at most; beyond that the generator falls behind


def add_background_rules(rules: Path, systems: int) -> None:
    """Append systems bNNNN (skill jNNNN, only engineer bNNNN has it) to paging.py's rules."""
    with (rules / "systems.yaml").open("a") as out:
        for i in range(systems):
            out.write(f"  b{i:04d}:\n    skills: [j{i:04d}]\n    match:\n")
            out.write(f"      - {{service: b{i:04d}}}\n")
    with (rules / "team.yaml").open("a") as out:
        for i in range(systems):
            out.write(f'  b{i:04d}: {{phone: "+1203{i:07d}", skills: {{j{i:04d}: 5}}}}\n')


def background_message(first: int, count: int, systems: int, run_id: str) -> dict[str, object]:
    """Webhook (v4) body with unique warning alerts first..first+count-1, alert n for system
    b<n mod systems>."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "skillpager",
        "groupLabels": {"alertname": "BenchBackground"},
        "commonLabels": {},
        "commonAnnotations": {},
        "alerts": [_background_alert(n, systems, run_id) for n in range(first, first + count)],
    }


def _background_alert(n: int, systems: int, run_id: str) -> dict[str, object]:
    name = f"b{n % systems:04d}"
    return {
        "status": "firing",
        "labels": {
            "alertname": "BenchBackground",
            "service": name,
            "instance": f"{run_id}-{n}",
            "severity": "warning",
        },
        "annotations": {"summary": f"background alert {n} on {name}"},
        "startsAt": datetime.now(UTC).isoformat(),
        "fingerprint": f"bg-{run_id}-{n}",
    }


def background(
    base_url: str,
    headers: dict[str, str],
    rate: float,
    shape: tuple[int, int],
    started: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
    results: "multiprocessing.Queue[dict[str, Any]]",
) -> None:
    """Process body: post `rate` alerts/s (`shape` = systems, alerts per request) on a fixed
    schedule until `stop`; put counts (in alerts) on `results`.

    Ctrl-C reaches this process too (same process group); it ignores it and lets the parent stop
    it, so that it never goes on posting to a server that is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results.put(asyncio.run(_background(base_url, headers, rate, shape, started, stop)))


async def _background(
    base_url: str,
    headers: dict[str, str],
    rate: float,
    shape: tuple[int, int],
    started: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
) -> dict[str, Any]:
    systems, batch = shape
    run_id = secrets.token_hex(3)
    counts: dict[str, Any] = {"sent": 0, "ok": 0, "errors": 0, "first_error": ""}
    answered: list[float] = []  # post → 202 seconds
    limits = httpx.Limits(max_connections=_IN_FLIGHT, max_keepalive_connections=_IN_FLIGHT)
    slots = asyncio.Semaphore(_IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30.0
    ) as client:

        async def one(n: int) -> None:
            try:
                sent = time.perf_counter()
                body = background_message(n * batch, batch, systems, run_id)
                response = await client.post("/webhooks/alertmanager", json=body)
                if response.status_code == 202:
                    counts["ok"] += batch
                    answered.append(time.perf_counter() - sent)
                else:
                    counts["errors"] += 1
                    counts["first_error"] = counts["first_error"] or response.text[:200]
            except httpx.HTTPError as exc:
                counts["errors"] += 1
                counts["first_error"] = counts["first_error"] or f"{type(exc).__name__}: {exc}"
            finally:
                slots.release()

        begin = time.perf_counter()
        started.set()
        n = 0
        while not stop.is_set():
            delay = begin + n * batch / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        elapsed = time.perf_counter() - begin
        await asyncio.gather(*tasks)
    counts["sent"] = n * batch
    counts["elapsed_s"] = elapsed
    counts["post_to_202"] = percentiles(answered)
    return counts


def run_one(load: float, args: argparse.Namespace) -> bool:
    """One fresh server at one background rate; prints the figures; True when all went well."""
    workdir = Path(tempfile.mkdtemp(prefix="skillpager-bench-latency-"))
    systems = args.incidents + _WARMUP
    rules = write_rules(workdir, systems)
    add_background_rules(rules, args.background_systems)
    context = multiprocessing.get_context("spawn")
    started, stop = context.Event(), context.Event()
    results: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    generator = None
    counts: dict[str, Any] = {}
    cpu = None
    try:
        with TimedTwilio() as fake:
            server = ServerProcess(workdir, env=server_env(rules, fake))
            try:
                server.start(timeout_s=60)
                if load <= 0:
                    stop.set()
                generator = context.Process(
                    target=background,
                    args=(
                        server.base_url,
                        server.webhook_headers(),
                        load,
                        (args.background_systems, args.background_batch),
                        started,
                        stop,
                        results,
                    ),
                    daemon=True,
                )
                generator.start()
                if not started.wait(timeout=60):
                    raise SystemExit("background load generator did not start")
                time.sleep(args.background_warmup)  # its first pages before the warm-up
                warmup = list(range(args.incidents, systems))
                asyncio.run(post_all(server, warmup, rate=args.rate))
                wait_arrivals(fake, {phone(i) for i in warmup})
                measured = list(range(args.incidents))
                cpu_before = cpu_seconds(server.pid)
                posts, elapsed = asyncio.run(post_all(server, measured, rate=args.rate))
                wait_arrivals(fake, {phone(i) for i in measured})
                cpu = cpu_used(server.pid, cpu_before)
                stop.set()
                counts = results.get(timeout=60)
                generator.join(timeout=30)
            finally:
                stop.set()
                if generator is not None and generator.is_alive():
                    generator.terminate()
                    generator.join(timeout=10)
                server.stop()
            print(f"=== background load {load:g} alerts/s asked", flush=True)
            achieved = counts["ok"] / counts["elapsed_s"] if counts.get("elapsed_s") else 0.0
            if load > 0:
                print(
                    f"  background: {counts['sent']:,} unique alerts on"
                    f" {args.background_systems} systems, {args.background_batch} a request,"
                    f" {achieved:,.1f}/s answered 202,"
                    f" errors {counts['errors']}"
                    + (f" (first: {counts['first_error']})" if counts["errors"] else "")
                )
                print(f"  background post → 202  {counts['post_to_202']}")
            else:
                print("  background: none (reference run)")
            failed = report(posts, elapsed, fake, server, args, cpu_s=cpu)
    finally:
        if args.keep:
            print(f"  kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return not failed and counts.get("errors", 1) == 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Measure once per background rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--loads",
        type=lambda text: [float(part) for part in text.split(",") if part.strip()],
        default=[0.0, 50.0, 500.0],
        help="background alerts per second, comma separated; 0 = none (0,50,500)",
    )
    parser.add_argument("--incidents", type=int, default=500, help="measured incidents (500)")
    parser.add_argument("--rate", type=float, default=50.0, help="measured incidents/s (50)")
    parser.add_argument(
        "--background-systems", type=int, default=100, help="systems the background hits (100)"
    )
    parser.add_argument(
        "--background-batch",
        type=int,
        default=10,
        help="alerts per background request (10; one Python client cannot post 500 requests/s"
        " beside the server on two cores)",
    )
    parser.add_argument(
        "--background-warmup",
        type=float,
        default=3.0,
        help="seconds of background before the measured posts' warm-up (3)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (db, log, rules)")
    args = parser.parse_args()
    # asyncio.run() would turn Ctrl-C into a cancellation that the posters may swallow; raise
    # KeyboardInterrupt where it lands instead, so run_one's finally blocks stop everything.
    signal.signal(signal.SIGINT, _interrupt)
    healthy = True
    for load in args.loads:
        healthy = run_one(load, args) and healthy
    return 0 if healthy else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
