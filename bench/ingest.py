"""Ingest benchmark: `POST /webhooks/alertmanager` on SQLite, driven by wrk.

For each batch size: a fresh migrated SQLite file, `skillpager serve` on a free loopback port,
wrk with bench/alertmanager_load.lua (unique fingerprints per alert) for --duration seconds at
--connections connections. Prints alerts/s, requests/s, p50/p99 latency, non-2xx count, the
server's CPU (% of one core, from /proc/<pid>/stat) and peak RSS; then stops the server and
checks durability: the alert rows in the file must cover every alert answered 2xx.

    .venv/bin/python bench/ingest.py [--duration 10] [--connections 16] [--batches 1,100]

Exit status 1 when a run had non-2xx answers or lost an acknowledged alert; 2 without wrk.
"""

import argparse
import contextlib
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.common import (
    LOOPBACK,
    TOKEN,
    add_load_arguments,
    cli,
    free_port,
    run_wrk,
    server_env,
    skillpager_server,
    sqlite_url,
    tree_usage,
    workdir,
)

TARGETS = {1: 2_500, 100: 20_000}  # alerts/s this machine should reach (ARCHITECTURE §1)


@dataclass(frozen=True)
class RunResult:
    """The figures of one wrk run against one fresh server."""

    batch: int
    duration_s: float
    requests: int
    ok: int
    socket_errors: dict[str, int]
    latency_us: dict[str, float]
    cpu_percent: float
    peak_rss_mib: float
    alert_rows: int
    raw_events: int

    @property
    def non_2xx(self) -> int:
        """Answers that were not 2xx."""
        return self.requests - self.ok

    @property
    def acked_alerts(self) -> int:
        """Alerts in requests answered 2xx."""
        return self.ok * self.batch

    @property
    def alerts_per_s(self) -> float:
        """Acknowledged alerts per second."""
        return self.acked_alerts / self.duration_s

    @property
    def requests_per_s(self) -> float:
        """Answered requests per second."""
        return self.requests / self.duration_s


def main() -> int:
    """Run the benchmark for every batch size and print a report."""
    args = _arguments()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: `apt-get install wrk` (Debian/Ubuntu), then run again.")
        return 2
    results = []
    for batch in args.batches:
        print(
            f"--- batch {batch}: {args.duration}s, {args.connections} connections ...", flush=True
        )
        result = _run(wrk, batch=batch, args=args)
        _report(result, args.connections)
        results.append(result)
    _summary(results)
    healthy = all(r.non_2xx == 0 and r.alert_rows >= r.acked_alerts for r in results)
    return 0 if healthy else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="record the server with py-spy (must be installed) into DIR/batch-N.svg",
    )
    return parser.parse_args()


def _run(wrk: str, *, batch: int, args: argparse.Namespace) -> RunResult:
    with workdir(keep=args.keep) as directory:
        database = directory / "bench.db"
        env = server_env(sqlite_url(database))
        cli(env, "migrate")
        port = free_port()
        with skillpager_server(env, port, directory / "server.log") as pid:
            before = tree_usage(pid)
            with _profiler(args.profile, pid, batch, args.duration):
                figures = _wrk(wrk, port=port, batch=batch, args=args)
            after = tree_usage(pid)
        alert_rows, raw_events = _count_rows(database)
        if args.keep:
            print(f"    kept {directory}")
    duration_s = figures["duration_us"] / 1e6
    return RunResult(
        batch=batch,
        duration_s=duration_s,
        requests=figures["requests"],
        ok=figures["ok"],
        socket_errors=figures["errors"],
        latency_us=figures["latency_us"],
        cpu_percent=100 * (after.cpu_s - before.cpu_s) / duration_s,
        peak_rss_mib=after.peak_rss_kib / 1024,
        alert_rows=alert_rows,
        raw_events=raw_events,
    )


@contextlib.contextmanager
def _profiler(directory: Path | None, pid: int, batch: int, duration: int) -> Iterator[None]:
    if directory is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("--profile needs py-spy: `.venv/bin/pip install py-spy`")
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / f"batch-{batch}.svg"
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(duration)]
    recorder = subprocess.Popen([*command, "--output", str(output)], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.wait(timeout=duration + 60)
        print(f"    profile: {output}")


def _wrk(wrk: str, *, port: int, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    return run_wrk(
        wrk,
        f"http://{LOOPBACK}:{port}/webhooks/alertmanager",
        [str(batch), TOKEN, secrets.token_hex(4)],
        connections=args.connections,
        threads=args.threads,
        duration=args.duration,
    )


def _count_rows(database: Path) -> tuple[int, int]:
    connection = sqlite3.connect(database)
    try:
        (alerts,) = connection.execute("SELECT count(*) FROM alerts").fetchone()
        (raw,) = connection.execute("SELECT count(*) FROM raw_events").fetchone()
    finally:
        connection.close()
    return alerts, raw


def _report(r: RunResult, connections: int) -> None:
    latency = r.latency_us
    errors = ", ".join(f"{k} {v}" for k, v in r.socket_errors.items() if v) or "none"
    print(f"    alerts/s      {r.alerts_per_s:10,.0f}   (target {TARGETS.get(r.batch, '-')})")
    print(f"    requests/s    {r.requests_per_s:10,.0f}   ({r.requests:,} in {r.duration_s:.1f}s)")
    print(
        f"    latency       p50 {latency['p50'] / 1000:.1f} ms, p90 {latency['p90'] / 1000:.1f}"
        f" ms, p99 {latency['p99'] / 1000:.1f} ms, max {latency['max'] / 1000:.1f} ms"
    )
    print(f"    non-2xx       {r.non_2xx}   (socket errors: {errors})")
    print(f"    server CPU    {r.cpu_percent:.0f}% of one core, peak RSS {r.peak_rss_mib:.0f} MiB")
    _report_durability(r, connections)


def _report_durability(r: RunResult, connections: int) -> None:
    # wrk stops with requests in flight: the server may commit those after wrk stopped
    # counting, so rows can exceed the acknowledged alerts by at most a connection's worth.
    extra = r.alert_rows - r.acked_alerts
    if extra == 0:
        verdict = "OK, equal"
    elif 0 < extra <= connections * r.batch:
        verdict = f"OK, +{extra} committed for requests still in flight when wrk stopped"
    else:
        verdict = "LOST ACKNOWLEDGED ALERTS" if extra < 0 else "MORE ROWS THAN SENT"
    print(
        f"    durability    {r.alert_rows:,} alert rows / {r.acked_alerts:,} alerts answered 2xx"
        f" ({r.raw_events:,} raw events): {verdict}"
    )


def _summary(results: list[RunResult]) -> None:
    print(f"--- {os.cpu_count()} CPUs; wrk shares them with the server")
    for r in results:
        target = TARGETS.get(r.batch)
        mark = "" if target is None else (" MET" if r.alerts_per_s >= target else " BELOW TARGET")
        print(f"    batch {r.batch:>4}: {r.alerts_per_s:10,.0f} alerts/s{mark}")


if __name__ == "__main__":
    sys.exit(main())
