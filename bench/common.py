"""Pieces the benchmark scripts share: running wrk with alertmanager_load.lua, machine facts.

`run_wrk` runs wrk against one URL with bench/alertmanager_load.lua and returns the figures its
`done()` prints on the `BENCH_JSON` line (counts, socket errors, latency percentiles in µs).
"""

import contextlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
LUA_SCRIPT = REPO_ROOT / "bench" / "alertmanager_load.lua"


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
