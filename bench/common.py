"""Pieces the benchmark scripts share: wrk, skillpager servers, process figures, comparisons.

`run_wrk` runs wrk against one URL with bench/alertmanager_load.lua and returns the figures its
`done()` prints on the `BENCH_JSON` line (counts, socket errors, latency percentiles in µs).
`skillpager_server` starts `skillpager serve` on a loopback port, `tree_usage` reads the CPU and
peak RSS of a server's process tree, `postgres_database` makes a throwaway PostgreSQL database.
The compare scripts (Alertmanager, Alerta) run their phases through `run_rounds`, `drive`,
`skillpager_phase`, `report_phase` and `summary`.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

REPO_ROOT = Path(__file__).resolve().parents[1]
LUA_SCRIPT = REPO_ROOT / "bench" / "alertmanager_load.lua"
LOOPBACK = "127.0.0.1"
TOKEN = "bench-webhook-token"  # noqa: S105 - a throwaway token for a loopback server
NO_TOKEN = "-"  # noqa: S105 - tells alertmanager_load.lua to send no Authorization header
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def run_wrk(
    wrk: str,
    url: str,
    lua_args: list[str],
    *,
    connections: int,
    threads: int,
    duration: int,
) -> dict[str, Any]:
    """wrk with the Lua generator (`-- BATCH TOKEN RUN_ID [FORMAT]`); its BENCH_JSON figures."""
    command = [
        wrk,
        f"--threads={min(threads, connections)}",
        f"--connections={connections}",
        f"--duration={duration}s",
        "--timeout=10s",
        "--latency",
        f"--script={LUA_SCRIPT}",
        url,
        "--",
        *lua_args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            figures: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return figures
    raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def machine() -> dict[str, str]:
    """CPU count, memory and CPU model (from /proc), kernel and Python, for reports."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


# --- processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """CPU seconds (user + system) and peak resident memory of a process tree so far."""

    cpu_s: float
    peak_rss_kib: int


def tree_usage(pid: int) -> Usage:
    """`pid` and its live descendants (gunicorn's master and workers): CPU, summed peak RSS.

    Each process counts its own utime+stime plus those of its children it has reaped, so a
    worker that exits between two readings still counts. The peak RSS is the sum of each
    process's VmHWM: pages that forked workers share with their master count once per process.
    """
    ticks, peak_kib = 0, 0
    for member in _process_tree(pid):
        with contextlib.suppress(OSError):  # it may have exited since it was listed
            _name, fields = _stat(member)
            status = Path(f"/proc/{member}/status").read_text()
            ticks += sum(int(field) for field in fields[11:15])
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak_kib += int(line.split()[1])
    return Usage(cpu_s=ticks / os.sysconf("SC_CLK_TCK"), peak_rss_kib=peak_kib)


def _stat(pid: int) -> tuple[str, list[str]]:
    """/proc/<pid>/stat: the command name, then the fields after it (state, ppid, …; so
    utime, stime, cutime, cstime, fields 14 to 17 of the file, are [11:15])."""
    text = Path(f"/proc/{pid}/stat").read_text()
    name, _, rest = text.partition(" (")[2].rpartition(")")
    return name, rest.split()


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            parent = int(_stat(int(entry.name))[1][1])
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


@contextlib.contextmanager
def workdir(*, keep: bool) -> Iterator[Path]:
    """A fresh temp dir, removed afterwards unless `keep`."""
    directory = Path(tempfile.mkdtemp(prefix="skillpager-bench-"))
    try:
        yield directory
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def free_port() -> int:
    """A TCP port on the loopback that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def http_get(url: str) -> str | None:
    """The body of a 200 answer, or None (refused, timed out, other status)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback http
            body: str = answer.read().decode()
            return body if answer.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path, name: str) -> None:
    """Poll `url` until it answers 200; exit with the server's log when it dies or takes 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited ({process.returncode}):\n{log_path.read_text()}")
        if http_get(url) is not None:
            return
        time.sleep(0.05)
    raise SystemExit(f"{name} not ready in 30s:\n{log_path.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, up to 30 s to exit, then SIGKILL."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- skillpager ----------------------------------------------------------------------------


def sqlite_url(database: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{database}"


def server_env(database_url: str) -> dict[str, str]:
    """This process's environment less any SKILLPAGER_ setting, plus the bench server's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLPAGER_")}
    env.update(
        {
            "SKILLPAGER_DATABASE_URL": database_url,
            "SKILLPAGER_WEBHOOK_TOKEN": TOKEN,
            "SKILLPAGER_RULES_DIR": str(REPO_ROOT / "routing_rules"),
            "SKILLPAGER_LOG_FORMAT": "text",
        }
    )
    return env


def cli(env: dict[str, str], *args: str) -> None:
    """`skillpager <args>` (e.g. `migrate`) in the repo; exits with its stderr when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise SystemExit(f"skillpager {' '.join(args)} failed:\n{done.stderr[-3000:]}")


@contextlib.contextmanager
def skillpager_server(env: dict[str, str], port: int, log_path: Path) -> Iterator[int]:
    """`skillpager serve` on 127.0.0.1:port; yields its pid once ready, stops it (SIGTERM)."""
    command = [sys.executable, "-m", "app.cli", "serve", "--host", LOOPBACK, "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_ready(process, f"http://{LOOPBACK}:{port}/readyz", log_path, "server")
        yield process.pid
    finally:
        stop(process)


# --- SQL -----------------------------------------------------------------------------------


def postgres_server_url() -> str:
    """The PostgreSQL the tests use (SKILLPAGER_TEST_POSTGRES_URL), else the loopback default."""
    return os.environ.get("SKILLPAGER_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def sql_scalar(url: str, statement: str) -> Any:
    """One statement outside a transaction (CREATE DATABASE needs that); its first value."""
    return asyncio.run(_sql_scalar(url, statement))


async def _sql_scalar(url: str, statement: str) -> Any:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


def postgres_pid(server_url: str) -> int | None:
    """The PostgreSQL server's main process (its backends' parent), or None when it runs
    where this machine's /proc cannot see it."""
    return asyncio.run(_postgres_pid(server_url))


def _postgres_parent(backend: int) -> int | None:
    try:
        name, fields = _stat(backend)
    except OSError:
        return None
    return int(fields[1]) if name.startswith("postgres") else None


async def _postgres_pid(url: str) -> int | None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            backend = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            return _postgres_parent(backend)  # read while the backend lives: it ends with us
    finally:
        await engine.dispose()


def with_database(url: str, name: str) -> str:
    """`url` with its database part replaced by `name`."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new empty database `<prefix>_<random>` on the server; its URL; dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    sql_scalar(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        sql_scalar(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- comparisons: phases, rounds, reports --------------------------------------------------


@dataclass(frozen=True)
class Load:
    """What wrk offers in each phase."""

    connections: int
    threads: int
    duration: int


@dataclass(frozen=True)
class Phase:
    """One wrk run against one freshly started server."""

    system: str  # a key such as "alertmanager", "skillpager-sqlite"
    batch: int
    duration_s: float
    requests: int
    ok: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    cpu_percent: float
    peak_rss_mib: float
    db_cpu_percent: float | None = None  # the PostgreSQL server's, when the system uses it
    stored: int | None = None  # the server's own count afterwards, as a cross-check
    stored_what: str = ""  # what `stored` counts, e.g. "alert rows"

    @property
    def alerts_per_s(self) -> float:
        """Alerts in requests answered 2xx, per second."""
        return self.ok * self.batch / self.duration_s

    @property
    def total_cpu_percent(self) -> float:
        """The server's CPU plus its PostgreSQL's (SQLite runs inside the server)."""
        return self.cpu_percent + (self.db_cpu_percent or 0.0)


@dataclass(frozen=True)
class Column:
    """One compared system in the summary: its Phase.system key and its column header."""

    system: str
    header: str


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags both compare scripts take: the load's, and --rounds."""
    add_load_arguments(parser)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per batch size (2)")


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of a wrk load: --duration, --connections, --threads, --batches, --keep."""
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase (10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--batches",
        type=lambda text: [int(part) for part in text.split(",") if part.strip()],
        default=[1, 100],
        help="alerts per request, comma separated (1,100)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (db, logs)")


def load_of(args: argparse.Namespace) -> Load:
    """The Load the compare flags ask for."""
    return Load(connections=args.connections, threads=args.threads, duration=args.duration)


def run_rounds(
    systems: list[tuple[str, Callable[[int], Phase]]], batches: list[int], rounds: int
) -> list[Phase]:
    """Per batch size, `rounds` times each system in turn (A B A B …); every phase reported."""
    phases: list[Phase] = []
    for batch in batches:
        for round_no in range(1, rounds + 1):
            for name, run in systems:
                print(f"--- batch {batch}, round {round_no}: {name} ...", flush=True)
                phase = run(batch)
                report_phase(phase)
                phases.append(phase)
    return phases


def healthy(phases: list[Phase]) -> bool:
    """Every request answered 2xx and no socket errors."""
    return all(p.requests == p.ok and p.socket_errors == 0 for p in phases)


def drive(
    system: str,
    wrk: str,
    url: str,
    pid: int,
    batch: int,
    load: Load,
    *,
    token: str,
    body: str,
    db_pid: int | None = None,
) -> Phase:
    """wrk against `url` with the Lua generator's `body` format and `token` (NO_TOKEN: none);
    the CPU the server's process tree used meanwhile (and the database server's, given its
    pid: it serves other clients too) and the server's peak RSS."""
    before, db_before = tree_usage(pid), None if db_pid is None else tree_usage(db_pid)
    figures = run_wrk(
        wrk,
        url,
        [str(batch), token, secrets.token_hex(4), body],
        connections=load.connections,
        threads=load.threads,
        duration=load.duration,
    )
    after, db_after = tree_usage(pid), None if db_pid is None else tree_usage(db_pid)
    duration_s = figures["duration_us"] / 1e6
    latency = figures["latency_us"]
    db_cpu = None
    if db_before is not None and db_after is not None:
        db_cpu = 100 * (db_after.cpu_s - db_before.cpu_s) / duration_s
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
        db_cpu_percent=db_cpu,
    )


def skillpager_phase(
    system: str, wrk: str, batch: int, load: Load, *, keep: bool, postgres: str | None = None
) -> Phase:
    """skillpager on a fresh SQLite file (or, given a server URL, a fresh PostgreSQL database),
    migrated, driven with webhook bodies at /webhooks/alertmanager; its alert rows counted."""
    db_pid = None if postgres is None else postgres_pid(postgres)
    with workdir(keep=keep) as directory, _skillpager_database(directory, postgres) as url:
        env = server_env(url)
        cli(env, "migrate")
        port = free_port()
        with skillpager_server(env, port, directory / "server.log") as pid:
            webhook = f"http://{LOOPBACK}:{port}/webhooks/alertmanager"
            phase = drive(
                system, wrk, webhook, pid, batch, load, token=TOKEN, body="webhook", db_pid=db_pid
            )
        rows = sql_scalar(url, "SELECT count(*) FROM alerts")
        if keep:
            print(f"    kept {directory}")
    return dataclasses.replace(phase, stored=int(rows), stored_what="alert rows")


@contextlib.contextmanager
def _skillpager_database(directory: Path, postgres: str | None) -> Iterator[str]:
    if postgres is None:
        yield sqlite_url(directory / "bench.db")
        return
    with postgres_database(postgres, "skillpager_bench") as url:
        yield url


def report_phase(p: Phase) -> None:
    """Two lines: alerts/s, latency, CPU, RSS; then requests, errors and the cross-check."""
    db_cpu = "" if p.db_cpu_percent is None else f" + PostgreSQL {p.db_cpu_percent:.0f}%"
    stored = "" if p.stored is None else f", {p.stored:,} {p.stored_what}"
    print(
        f"    alerts/s {p.alerts_per_s:10,.0f}   p50 {p.p50_ms:6.1f} ms  p99 {p.p99_ms:6.1f} ms"
        f"   CPU {p.cpu_percent:4.0f}%{db_cpu}   peak RSS {p.peak_rss_mib:5.0f} MiB"
    )
    print(
        f"    {p.ok:,}/{p.requests:,} requests 2xx in {p.duration_s:.1f}s, "
        f"socket errors {p.socket_errors}{stored}"
    )


_FIGURES: tuple[tuple[str, Callable[[Phase], float | None], str], ...] = (
    ("alerts/s", lambda p: p.alerts_per_s, ",.0f"),
    ("p50 ms", lambda p: p.p50_ms, ".1f"),
    ("p99 ms", lambda p: p.p99_ms, ".1f"),
    ("CPU %", lambda p: p.cpu_percent, ".0f"),
    ("PG CPU %", lambda p: p.db_cpu_percent, ".0f"),
    ("peak RSS MiB", lambda p: p.peak_rss_mib, ".0f"),
    # Throughput per unit of CPU (the server's plus its PostgreSQL's): the fairer figure when
    # the servers do not saturate the machine alike.
    ("alerts/CPU%", lambda p: p.alerts_per_s / max(p.total_cpu_percent, 1), ",.1f"),
)


def summary(
    phases: list[Phase], batches: list[int], reference: Column, others: list[Column]
) -> None:
    """Per batch size and figure the median over rounds of each system, each of `others`
    followed by its ratio to `reference`; "-" where a system has no such figure."""
    ratio_of = others[0].header if len(others) == 1 else "the column to its left"
    print(f"--- medians over rounds (ratio = {ratio_of} / {reference.header})")
    widths = [max(14, len(column.header)) for column in (reference, *others)]
    header = f"{'batch':>5}  {'figure':<12} {reference.header:>{widths[0]}}"
    for column, width in zip(others, widths[1:], strict=True):
        header += f" {column.header:>{width}} {'ratio':>8}"
    print(header)
    for batch in batches:
        of_batch = [
            [p for p in phases if p.batch == batch and p.system == c.system]
            for c in (reference, *others)
        ]
        if not all(of_batch):
            continue
        for name, value, spec in _FIGURES:
            medians = [_median([value(p) for p in group]) for group in of_batch]
            if all(median is None for median in medians):
                continue
            line = f"{batch:>5}  {name:<12} {_cell(medians[0], widths[0], spec)}"
            for median, width in zip(medians[1:], widths[1:], strict=True):
                base = medians[0]
                ratio = f"{median / base:8.2f}" if median is not None and base else "       -"
                line += f" {_cell(median, width, spec)} {ratio}"
            print(line)


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _cell(value: float | None, width: int, spec: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}{spec}}"
