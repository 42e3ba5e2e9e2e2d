"""Run the long benchmarks one after another and write their output to bench/RESULTS.md.

Each script runs as a subprocess of its own (its output is shown as it comes and captured);
the markdown file gets the date, the machine (CPUs, memory, CPU model from /proc/cpuinfo), the
git commit (with "+ uncommitted changes" when the tree is dirty), and per benchmark its command
line, exit status, wall time and output. `make bench` runs this.

    .venv/bin/python bench/run_all.py [--quick] [--only ingest,storm] [--output bench/RESULTS.md]

--quick uses short durations (seconds per phase instead of tens) and says so in the file.
Exit status 1 when a benchmark exited non-zero (the file is written anyway).
"""

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.common import machine

# name → (script, full arguments, --quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "ingest": ("ingest.py", [], ["--duration", "3"]),
    "routing": ("routing.py", [], ["--alerts", "20000"]),
    "paging": ("paging.py", [], ["--incidents", "200"]),
    "latency": ("latency.py", [], ["--incidents", "150"]),
    "storm": ("storm.py", [], ["--events", "1000", "--duration", "10"]),
    "compare_alertmanager": ("compare_alertmanager.py", [], ["--duration", "3", "--rounds", "1"]),
    "compare_alerta": ("compare_alerta.py", [], ["--duration", "3", "--rounds", "1"]),
    "memory": ("memory.py", ["--explain"], ["--alerts", "100000", "--requests", "10"]),
    "crash": ("crash.py", [], []),
}


@dataclass(frozen=True)
class Outcome:
    """One benchmark's run."""

    name: str
    command: list[str]
    returncode: int
    seconds: float
    output: str


def main() -> int:
    """Run the chosen benchmarks and write the markdown report."""
    args = _arguments()
    started = datetime.now(UTC)
    outcomes = []
    try:
        for name in args.only:
            script, full, quick = BENCHMARKS[name]
            command = [sys.executable, f"bench/{script}", *(quick if args.quick else full)]
            outcomes.append(_run(name, command))
    finally:
        if outcomes:
            _write(args.output, started, outcomes, quick=args.quick, planned=len(args.only))
            print(f"wrote {args.output}")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short durations (a smoke run)")
    parser.add_argument(
        "--only",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=list(BENCHMARKS),
        help=f"comma separated subset of {','.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "bench" / "RESULTS.md", help="markdown file"
    )
    args = parser.parse_args()
    unknown = [name for name in args.only if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {list(BENCHMARKS)}")
    return args


def _run(name: str, command: list[str]) -> Outcome:
    """The benchmark as a subprocess; its stdout+stderr echoed line by line and captured."""
    print(f"### {name}: {' '.join(command[1:])}", flush=True)
    begin = time.monotonic()
    lines: list[str] = []
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        returncode = process.wait()
    except BaseException:
        _stop(process)
        raise
    return Outcome(name, command, returncode, time.monotonic() - begin, "".join(lines))


def _stop(process: subprocess.Popen[str]) -> None:
    """Ctrl-C or an error: let the benchmark stop its servers (its finally blocks run on
    SIGINT, which a terminal's Ctrl-C has already sent it), else interrupt it, then kill it."""
    for interrupt, grace_s in ((False, 5.0), (True, 60.0)):
        if interrupt:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=30
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _write(
    path: Path, started: datetime, outcomes: list[Outcome], *, quick: bool, planned: int
) -> None:
    facts = machine()
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    subject = _git("log", "-1", "--format=%s")
    dirty = " + uncommitted changes" if _git("status", "--porcelain") else ""
    out = ["# Benchmark results", ""]
    if quick:
        out += [
            "**Smoke run with short durations (`bench/run_all.py --quick`)**: the figures show the",
            "scripts work, they are not the benchmark; `make bench` runs the full durations.",
            "",
        ]
    out += [
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {facts['nproc']} CPUs, {facts['memory']} memory, {facts['cpu']}",
        f"- kernel {facts['kernel']}, Python {facts['python']}",
        f"- git commit: {commit}{dirty} ({subject})",
        "",
        "Each benchmark starts its own servers on 127.0.0.1; wrk, load generators and servers",
        "share the CPUs, so other work on the machine moves the figures.",
        "",
        "| benchmark | command | exit | wall time |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        out.append(
            f"| {o.name} | `{' '.join(o.command[1:])}` | {o.returncode} | {o.seconds:.0f} s |"
        )
    if len(outcomes) < planned:
        out += ["", f"Interrupted: {len(outcomes)} of {planned} benchmarks ran."]
    for o in outcomes:
        out += ["", f"## {o.name}", "", f"`{' '.join(o.command[1:])}`", "", "```"]
        out += [o.output.rstrip("\n"), "```"]
    path.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
