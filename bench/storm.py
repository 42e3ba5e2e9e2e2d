"""Storm benchmark: ingest latency while one system sends thousands of alerts.

Starts `skillpager serve` on a fresh SQLite file (tests/support/server.py's ServerProcess, the
example rules in routing_rules/), then posts --events generic alerts for payments-db spread
evenly over --duration seconds (0: as fast as --connections allow): --keys fingerprints, key 0
firing throughout, the others firing and resolving at random. Prints the ingest latency
percentiles and what the storm became: incidents, page rounds (engineer@cycle.step.round, any
channel), raw events stored.

    .venv/bin/python bench/storm.py [--events 5000] [--duration 60] [--connections 16]

Exit status 1 when an answer was not 202, or the storm was not one incident with one page.
"""

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.server import ServerProcess


def main() -> int:
    """Run one storm against a fresh server and print the figures."""
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="skillpager-storm-") as directory:
        with ServerProcess(Path(directory)) as server:
            token = server.create_token()
            latencies, failures = asyncio.run(_storm(server, args))
            time.sleep(2)  # let the engine's one-second tick settle the outbox
            incidents = _incidents(server, token)
        raw_events, pages = _counts(server.database_path)
    _report(args, latencies, failures, incidents, raw_events, pages)
    healthy = not failures and len(incidents) == 1 and len(pages) == 1
    return 0 if healthy else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="alerts to send (5000)")
    parser.add_argument("--keys", type=int, default=50, help="distinct fingerprints (50)")
    parser.add_argument("--duration", type=float, default=60, help="seconds to spread over (60)")
    parser.add_argument("--connections", type=int, default=16, help="requests in flight (16)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    return parser.parse_args()


def _events(args: argparse.Namespace) -> list[bytes]:
    rng = random.Random(args.seed)
    keys = [(key, "firing") for key in range(args.keys)]
    while len(keys) < args.events:
        key = rng.randrange(args.keys)
        keys.append((key, "firing" if key == 0 else rng.choice(("firing", "resolved"))))
    return [
        json.dumps(
            {
                "summary": f"payments-db storm key-{key} {status}",
                "severity": "critical",
                "dedup_key": f"storm-{key}",
                "status": status,
                "labels": {"service": "payments-db"},
            }
        ).encode()
        for key, status in keys[: args.events]
    ]


async def _storm(server: ServerProcess, args: argparse.Namespace) -> tuple[list[float], int]:
    bodies = _events(args)
    interval = args.duration / len(bodies) if bodies else 0
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for item in enumerate(bodies):
        queue.put_nowait(item)
    started = time.perf_counter()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            number, body = queue.get_nowait()
            await asyncio.sleep(max(0.0, started + number * interval - time.perf_counter()))
            sent = time.perf_counter()
            response = await client.post("/webhooks/generic", content=body)
            latencies.append(time.perf_counter() - sent)
            failures += response.status_code != 202

    limits = httpx.Limits(max_connections=args.connections)
    headers = server.webhook_headers() | {"Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=headers, limits=limits, timeout=30
    ) as client:
        await asyncio.gather(*(worker(client) for _ in range(args.connections)))
    print(f"sent {len(bodies):,} alerts in {time.perf_counter() - started:.1f} s")
    return latencies, failures


def _incidents(server: ServerProcess, token: str) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
        answer = client.get("/api/incidents", params={"system": "payments-db"})
        items: list[dict[str, object]] = answer.json()["items"]
        return items


def _counts(database: Path) -> tuple[int, list[str]]:
    """Raw events stored, and "engineer@cycle.step.round" of every page round (any channel)."""
    connection = sqlite3.connect(database)
    try:
        (raw,) = connection.execute("SELECT count(*) FROM raw_events").fetchone()
        rounds = connection.execute(
            "SELECT DISTINCT engineer || '@' || cycle || '.' || step || '.' || round"
            " FROM pages WHERE kind = 'page'"
        ).fetchall()
    finally:
        connection.close()
    return raw, [row[0] for row in rounds]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def _report(
    args: argparse.Namespace,
    latencies: list[float],
    failures: int,
    incidents: list[dict[str, object]],
    raw_events: int,
    pages: list[str],
) -> None:
    figures = ", ".join(
        f"p{int(share * 100)} {_percentile(latencies, share):.1f} ms" for share in (0.5, 0.9, 0.99)
    )
    print(f"ingest latency  {figures}, max {max(latencies) * 1000:.1f} ms")
    print(f"non-202         {failures}")
    print(f"raw events      {raw_events:,} stored of {args.events:,} sent")
    print(f"incidents       {len(incidents)} for payments-db; pages: {', '.join(pages)}")
    for incident in incidents:
        print(
            f"  #{incident['id']} storm={incident['storm']} rate={incident['storm_rate']}/min"
            f" events={incident['events']} keys={incident['distinct_keys']}"
        )


if __name__ == "__main__":
    sys.exit(main())
