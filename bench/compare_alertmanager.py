"""Ingest next to Prometheus Alertmanager: the same wrk load against both, alternating A B A B.

Starts Debian's `prometheus-alertmanager` on 127.0.0.1 (clustering off, its own storage dir,
one route to a receiver with no configs, so it stores, groups and drops) and `skillpager serve`
on a fresh SQLite file, and drives each with wrk and bench/alertmanager_load.lua: unique alerts
(every one has its own `instance` label / fingerprint), batches of 1 and 100, --connections
connections, --duration seconds per phase. Alertmanager gets `POST /api/v2/alerts` with a JSON
list of postable alerts, skillpager `POST /webhooks/alertmanager` with a webhook (v4) body of the
same alerts. Every phase starts a fresh server, so each phase's peak RSS is its own; the order
per batch size is Alertmanager, skillpager, repeated --rounds times.

Prints per phase alerts/s, p50/p99 latency, server CPU (% of one core) and peak RSS, then per
batch size the median over rounds and the ratio skillpager / Alertmanager.

    .venv/bin/python bench/compare_alertmanager.py [--duration 10] [--rounds 2]

Exit status 1 when a phase had non-2xx answers or socket errors; 2 when wrk or
prometheus-alertmanager is missing.
"""

import argparse
import contextlib
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.common import run_wrk
from bench.ingest import (
    LOOPBACK,
    TOKEN,
    _cli,
    _count_rows,
    _free_port,
    _server,
    _server_env,
    _usage,
    _workdir,
)

ALERTMANAGER = "prometheus-alertmanager"
AM_CONFIG = """\
# skillpager bench: store and group every alert, notify nobody.
route:
  receiver: blackhole
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: blackhole
"""


@dataclass(frozen=True)
class Phase:
    """One wrk run against one fresh server."""

    system: str  # "alertmanager" or "skillpager"
    batch: int
    duration_s: float
    requests: int
    ok: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    cpu_percent: float
    peak_rss_mib: float
    stored: int | None  # alert rows (skillpager) / alerts received (Alertmanager's counter)

    @property
    def alerts_per_s(self) -> float:
        """Alerts in requests answered 2xx, per second."""
        return self.ok * self.batch / self.duration_s


def main() -> int:
    """Alternate the two servers per batch size and round; print phases and ratios."""
    args = _arguments()
    wrk = shutil.which("wrk")
    alertmanager = shutil.which(ALERTMANAGER)
    if wrk is None or alertmanager is None:
        missing = "wrk" if wrk is None else ALERTMANAGER
        print(f"{missing} is not installed: `apt-get install {missing}`, then run again.")
        return 2
    print(f"{_version(alertmanager)}; skillpager on SQLite; {args.connections} connections,")
    print(f"{args.duration}s per phase, {args.rounds} rounds; wrk shares the CPUs with the server")
    phases: list[Phase] = []
    for batch in args.batches:
        for round_no in range(1, args.rounds + 1):
            for system in ("alertmanager", "skillpager"):
                print(f"--- batch {batch}, round {round_no}: {system} ...", flush=True)
                if system == "alertmanager":
                    phase = _alertmanager_phase(alertmanager, wrk, batch, args)
                else:
                    phase = _skillpager_phase(wrk, batch, args)
                _report(phase)
                phases.append(phase)
    _summary(phases, args.batches)
    healthy = all(p.requests == p.ok and p.socket_errors == 0 for p in phases)
    return 0 if healthy else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase (10)")
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs per batch size (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--batches",
        type=lambda text: [int(part) for part in text.split(",") if part.strip()],
        default=[1, 100],
        help="alerts per request, comma separated (1,100)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (db, logs)")
    return parser.parse_args()


def _version(alertmanager: str) -> str:
    done = subprocess.run(
        [alertmanager, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else ALERTMANAGER


def _skillpager_phase(wrk: str, batch: int, args: argparse.Namespace) -> Phase:
    with _workdir(keep=args.keep) as directory:
        database = directory / "bench.db"
        env = _server_env(database)
        _cli(env, "migrate")
        port = _free_port()
        with _server(env, port, directory / "server.log") as pid:
            url = f"http://{LOOPBACK}:{port}/webhooks/alertmanager"
            phase = _drive("skillpager", wrk, url, pid, batch, "webhook", args)
        alert_rows, _raw = _count_rows(database)
        if args.keep:
            print(f"    kept {directory}")
    return Phase(**{**phase.__dict__, "stored": alert_rows})


def _alertmanager_phase(alertmanager: str, wrk: str, batch: int, args: argparse.Namespace) -> Phase:
    with _workdir(keep=args.keep) as directory:
        port = _free_port()
        with _alertmanager(alertmanager, directory, port) as pid:
            url = f"http://{LOOPBACK}:{port}/api/v2/alerts"
            phase = _drive("alertmanager", wrk, url, pid, batch, "am-v2", args)
            received = _received(port)
        if args.keep:
            print(f"    kept {directory}")
    return Phase(**{**phase.__dict__, "stored": received})


def _drive(
    system: str, wrk: str, url: str, pid: int, batch: int, body: str, args: argparse.Namespace
) -> Phase:
    before = _usage(pid)
    figures = run_wrk(
        wrk,
        url,
        [str(batch), TOKEN, secrets.token_hex(4), body],
        connections=args.connections,
        threads=args.threads,
        duration=args.duration,
    )
    after = _usage(pid)
    duration_s = figures["duration_us"] / 1e6
    latency = figures["latency_us"]
    return Phase(
        system=system,
        batch=batch,
        duration_s=duration_s,
        requests=figures["requests"],
        ok=figures["ok"],
        socket_errors=sum(figures["errors"].values()) - figures["errors"].get("status", 0),
        p50_ms=latency["p50"] / 1000,
        p99_ms=latency["p99"] / 1000,
        cpu_percent=100 * (after.cpu_s - before.cpu_s) / duration_s,
        peak_rss_mib=after.peak_rss_kib / 1024,
        stored=None,
    )


@contextlib.contextmanager
def _alertmanager(binary: str, directory: Path, port: int) -> Iterator[int]:
    """Alertmanager on 127.0.0.1:port, clustering off; yields its pid once ready, then stops it."""
    config = directory / "alertmanager.yml"
    config.write_text(AM_CONFIG)
    storage = directory / "data"
    storage.mkdir()
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.path={storage}",
        f"--web.listen-address={LOOPBACK}:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    log_path = directory / "alertmanager.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=directory, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"alertmanager exited ({process.returncode}):\n{log_path.read_text()}"
                )
            if _get(f"http://{LOOPBACK}:{port}/-/ready") is not None:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"alertmanager not ready in 30s:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback http
            text: str = answer.read().decode()
            return text if answer.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def _received(port: int) -> int | None:
    """Alertmanager's own count of alerts received (alertmanager_alerts_received_total)."""
    metrics = _get(f"http://{LOOPBACK}:{port}/metrics")
    if metrics is None:
        return None
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("alertmanager_alerts_received_total"):
            total += float(line.rsplit(maxsplit=1)[1])
    return int(total)


def _report(p: Phase) -> None:
    stored = (
        ""
        if p.stored is None
        else f", {p.stored:,} "
        + ("alert rows" if p.system == "skillpager" else "received (its counter)")
    )
    print(
        f"    alerts/s {p.alerts_per_s:10,.0f}   p50 {p.p50_ms:6.1f} ms  p99 {p.p99_ms:6.1f} ms"
        f"   CPU {p.cpu_percent:4.0f}%   peak RSS {p.peak_rss_mib:5.0f} MiB"
    )
    print(
        f"    {p.ok:,}/{p.requests:,} requests 2xx in {p.duration_s:.1f}s, "
        f"socket errors {p.socket_errors}{stored}"
    )


def _summary(phases: list[Phase], batches: list[int]) -> None:
    print("--- medians over rounds (ratio = skillpager / Alertmanager)")
    header = f"{'batch':>5}  {'figure':<12} {'Alertmanager':>14} {'skillpager':>14} {'ratio':>8}"
    print(header)
    figures: tuple[tuple[str, Callable[[Phase], float], str], ...] = (
        ("alerts/s", lambda p: p.alerts_per_s, "{:14,.0f}"),
        ("p50 ms", lambda p: p.p50_ms, "{:14.1f}"),
        ("p99 ms", lambda p: p.p99_ms, "{:14.1f}"),
        ("CPU %", lambda p: p.cpu_percent, "{:14.0f}"),
        ("peak RSS MiB", lambda p: p.peak_rss_mib, "{:14.0f}"),
    )
    for batch in batches:
        am = [p for p in phases if p.batch == batch and p.system == "alertmanager"]
        sp = [p for p in phases if p.batch == batch and p.system == "skillpager"]
        if not am or not sp:
            continue
        for name, value, fmt in figures:
            a = statistics.median(value(p) for p in am)
            s = statistics.median(value(p) for p in sp)
            ratio = f"{s / a:8.2f}" if a else "       -"
            print(f"{batch:>5}  {name:<12} {fmt.format(a)} {fmt.format(s)} {ratio}")
        per_cpu_am = statistics.median(p.alerts_per_s / max(p.cpu_percent, 1) for p in am)
        per_cpu_sp = statistics.median(p.alerts_per_s / max(p.cpu_percent, 1) for p in sp)
        print(
            f"{batch:>5}  {'alerts/CPU%':<12} {per_cpu_am:14,.0f} {per_cpu_sp:14,.0f}"
            f" {per_cpu_sp / per_cpu_am:8.2f}"
        )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
