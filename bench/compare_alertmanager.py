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
import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.common import (
    LOOPBACK,
    TOKEN,
    Column,
    Load,
    Phase,
    add_compare_arguments,
    drive,
    free_port,
    healthy,
    http_get,
    load_of,
    run_rounds,
    skillpager_phase,
    stop,
    summary,
    wait_ready,
    workdir,
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


def main() -> int:
    """Alternate the two servers per batch size and round; print phases and ratios."""
    args = _arguments()
    wrk = shutil.which("wrk")
    alertmanager = shutil.which(ALERTMANAGER)
    if wrk is None or alertmanager is None:
        missing = "wrk" if wrk is None else ALERTMANAGER
        print(f"{missing} is not installed: `apt-get install {missing}`, then run again.")
        return 2
    load = load_of(args)
    print(f"{_version(alertmanager)}; skillpager on SQLite; {args.connections} connections,")
    print(f"{args.duration}s per phase, {args.rounds} rounds; wrk shares the CPUs with the server")
    systems = [
        (
            "alertmanager",
            lambda batch: _alertmanager_phase(alertmanager, wrk, batch, load, keep=args.keep),
        ),
        (
            "skillpager",
            lambda batch: skillpager_phase("skillpager", wrk, batch, load, keep=args.keep),
        ),
    ]
    phases = run_rounds(systems, args.batches, args.rounds)
    summary(
        phases,
        args.batches,
        Column("alertmanager", "Alertmanager"),
        [Column("skillpager", "skillpager")],
    )
    return 0 if healthy(phases) else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_compare_arguments(parser)
    return parser.parse_args()


def _version(alertmanager: str) -> str:
    done = subprocess.run(
        [alertmanager, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else ALERTMANAGER


def _alertmanager_phase(
    alertmanager: str, wrk: str, batch: int, load: Load, *, keep: bool
) -> Phase:
    with workdir(keep=keep) as directory:
        port = free_port()
        with _alertmanager(alertmanager, directory, port) as pid:
            url = f"http://{LOOPBACK}:{port}/api/v2/alerts"
            phase = drive("alertmanager", wrk, url, pid, batch, load, token=TOKEN, body="am-v2")
            received = _received(port)
        if keep:
            print(f"    kept {directory}")
    return dataclasses.replace(phase, stored=received, stored_what="received (its counter)")


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
        wait_ready(process, f"http://{LOOPBACK}:{port}/-/ready", log_path, "alertmanager")
        yield process.pid
    finally:
        stop(process)


def _received(port: int) -> int | None:
    """Alertmanager's own count of alerts received (alertmanager_alerts_received_total)."""
    metrics = http_get(f"http://{LOOPBACK}:{port}/metrics")
    if metrics is None:
        return None
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("alertmanager_alerts_received_total"):
            total += float(line.rsplit(maxsplit=1)[1])
    return int(total)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
