"""Ingest next to Alerta: the same Alertmanager webhook bodies against both, alternating.

Alerta (alerta-server 9.1, the open-source alert server closest to skillpager) runs under
gunicorn (--alerta-workers sync workers, 2) on 127.0.0.1 with a fresh PostgreSQL database of its
own, AUTH_REQUIRED = False and no plugins; it gets `POST /webhooks/prometheus`. skillpager runs
as `ingest.py` runs it, once on a fresh SQLite file and once on a fresh PostgreSQL database, and
gets `POST /webhooks/alertmanager`. All three get the same Alertmanager webhook (v4) bodies from
wrk and bench/alertmanager_load.lua: unique alerts (each has its own `instance` label and
fingerprint), batches of 1 and 100, --connections connections, --duration seconds per phase.
Per batch size the order is Alerta, skillpager on SQLite, skillpager on PostgreSQL, repeated
--rounds times; every phase starts a fresh server on a fresh database (dropped afterwards).

Alerta and gunicorn live in a venv of their own outside the repo (--alerta-venv, made with pip
on first use). PostgreSQL is the tests' server (SKILLPAGER_TEST_POSTGRES_URL, else
127.0.0.1:5432 as postgres, trust auth); --postgres names another.

Prints per phase alerts/s, p50/p99 latency, the server's CPU (its whole process tree, gunicorn's
master and workers; % of one core) and peak RSS (summed over the tree) and its alert rows
afterwards; then per batch size the medians over rounds and each skillpager's ratio to Alerta.

    .venv/bin/python bench/compare_alerta.py [--duration 10] [--rounds 2] [--batches 1,100]

Exit status 1 when a phase had non-2xx answers or socket errors; 2 when wrk is missing or
PostgreSQL does not answer.
"""

import argparse
import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.common import (
    LOOPBACK,
    NO_TOKEN,
    Column,
    Load,
    Phase,
    add_compare_arguments,
    drive,
    free_port,
    healthy,
    load_of,
    postgres_database,
    postgres_pid,
    postgres_server_url,
    run_rounds,
    skillpager_phase,
    sql_scalar,
    stop,
    summary,
    wait_ready,
    workdir,
)

ALERTA_PACKAGES = ("alerta-server==9.1.*", "gunicorn==27.*", "psycopg2-binary==2.9.*")
DEFAULT_VENV = Path(tempfile.gettempdir()) / "skillpager-bench-alerta-venv"
ALERTA_CONFIG = """\
# skillpager bench: a throwaway database, no auth, no plugins (their defaults reject, forward
# and look up heartbeats and blackouts on every alert).
DATABASE_URL = {database_url!r}
AUTH_REQUIRED = False
PLUGINS = []
LOG_LEVEL = 'WARNING'
"""
# Alerta builds its schema in create_app(): done once before gunicorn's workers start, so they
# do not race each other creating the same tables.
SCHEMA_ONCE = "from alerta import create_app; create_app()"


def main() -> int:
    """Alternate Alerta and skillpager (SQLite, PostgreSQL) per batch size and round."""
    args = _arguments()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: `apt-get install wrk`, then run again.")
        return 2
    try:
        postgres_version = sql_scalar(args.postgres, "SHOW server_version")
    except (SQLAlchemyError, OSError) as exc:
        print(f"PostgreSQL at {args.postgres} does not answer: {exc}")
        return 2
    venv = _alerta_venv(args.alerta_venv)
    load = load_of(args)
    print(
        f"alerta-server {_alerta_version(venv)} under gunicorn, {args.alerta_workers} sync"
        f" workers, on PostgreSQL {postgres_version};"
    )
    print(f"skillpager on SQLite and on PostgreSQL; {args.connections} connections,")
    print(f"{args.duration}s per phase, {args.rounds} rounds; wrk shares the CPUs with the server")
    systems = [
        ("alerta", lambda batch: _alerta_phase(venv, wrk, batch, load, args)),
        (
            "skillpager-sqlite",
            lambda batch: skillpager_phase("skillpager-sqlite", wrk, batch, load, keep=args.keep),
        ),
        (
            "skillpager-postgres",
            lambda batch: skillpager_phase(
                "skillpager-postgres", wrk, batch, load, keep=args.keep, postgres=args.postgres
            ),
        ),
    ]
    phases = run_rounds(systems, args.batches, args.rounds)
    summary(
        phases,
        args.batches,
        Column("alerta", "Alerta"),
        [
            Column("skillpager-sqlite", "skillpager SQLite"),
            Column("skillpager-postgres", "skillpager PostgreSQL"),
        ],
    )
    return 0 if healthy(phases) else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_compare_arguments(parser)
    parser.add_argument(
        "--alerta-venv",
        type=Path,
        default=DEFAULT_VENV,
        help=f"venv with Alerta and gunicorn, made when missing ({DEFAULT_VENV})",
    )
    parser.add_argument(
        "--alerta-workers", type=int, default=2, help="gunicorn sync workers for Alerta (2)"
    )
    parser.add_argument(
        "--postgres",
        default=postgres_server_url(),
        help="SQLAlchemy URL of the PostgreSQL server (SKILLPAGER_TEST_POSTGRES_URL or "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)",
    )
    return parser.parse_args()


def _alerta_venv(path: Path) -> Path:
    """A venv at `path` with ALERTA_PACKAGES; made with pip when missing or different."""
    stamp = path / "skillpager-bench-packages.txt"
    wanted = "\n".join(ALERTA_PACKAGES) + "\n"
    if stamp.is_file() and stamp.read_text() == wanted:
        return path
    print(f"installing {' '.join(ALERTA_PACKAGES)} into {path} ...", flush=True)
    _run([sys.executable, "-m", "venv", str(path)], timeout=300)
    _run(
        [str(path / "bin" / "python"), "-m", "pip", "install", "-q", *ALERTA_PACKAGES], timeout=1800
    )
    stamp.write_text(wanted)
    return path


def _run(
    command: list[str], *, timeout: int, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr[-3000:]}")


def _alerta_version(venv: Path) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import alerta.version as v; print(v.__version__)"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout.strip() or "(unknown version)"


def _alerta_phase(venv: Path, wrk: str, batch: int, load: Load, args: argparse.Namespace) -> Phase:
    db_pid = postgres_pid(args.postgres)
    with (
        workdir(keep=args.keep) as directory,
        postgres_database(args.postgres, "alerta_bench") as url,
    ):
        port = free_port()
        with _alerta(venv, directory, port, url, args.alerta_workers) as pid:
            webhook = f"http://{LOOPBACK}:{port}/webhooks/prometheus"
            # No Authorization header: with AUTH_REQUIRED off Alerta still checks a bearer
            # token it is sent, and answers 401 to one that is not its own JWT.
            phase = drive(
                "alerta",
                wrk,
                webhook,
                pid,
                batch,
                load,
                token=NO_TOKEN,
                body="webhook",
                db_pid=db_pid,
            )
        rows = sql_scalar(url, "SELECT count(*) FROM alerts")
        if args.keep:
            print(f"    kept {directory} (the database is dropped)")
    return dataclasses.replace(phase, stored=int(rows), stored_what="alert rows")


@contextlib.contextmanager
def _alerta(
    venv: Path, directory: Path, port: int, database_url: str, workers: int
) -> Iterator[int]:
    """Alerta under gunicorn on 127.0.0.1:port; yields the master's pid once it answers."""
    config = directory / "alertad.conf"
    psycopg_url = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    config.write_text(ALERTA_CONFIG.format(database_url=psycopg_url))
    env = {**os.environ, "ALERTA_SVR_CONF_FILE": str(config)}
    _run([str(venv / "bin" / "python"), "-c", SCHEMA_ONCE], timeout=120, env=env, cwd=directory)
    command = [
        str(venv / "bin" / "gunicorn"),
        f"--workers={workers}",
        f"--bind={LOOPBACK}:{port}",
        "--no-control-socket",  # its default is one shared path under ~/.gunicorn
        "--log-level=warning",
        "alerta:create_app()",
    ]
    log_path = directory / "alerta.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=directory, env=env, stdout=log, stderr=log)
    try:
        wait_ready(process, f"http://{LOOPBACK}:{port}/management/gtg", log_path, "alerta")
        yield process.pid
    finally:
        stop(process)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
