"""What the alert text index costs the writer: µs per inserted and per updated alert row on SQLite.

Inserts --rows alert rows into a fresh SQLite file migrated to 0001 (no text index) and to head
(migration 0002's FTS5 table and triggers) through the writer's own statements
(`insert_returning_ids`, `bulk_update_by_id`): --per-request rows per request,
--per-transaction rows per transaction, WAL with synchronous=FULL (app/store/session.py's
pragmas). Then rewrites every column of 10,000 rows as the writer's refresh of a firing alert
does, once with the same summary and once with a new one, and inserts 10,000 more (the next
bulk index steps re-index the changed rows).
Runs alternate and repeat (--repeats); the best run of each is printed, as CPU and wall time.

    .venv/bin/python bench/search_index_cost.py [--rows 100000] [--per-transaction 1000]
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, create_engine, event

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from app.store.bulk import bulk_update_by_id
from app.store.migrate import alembic_config
from app.store.session import begin_immediate, sqlite_pragmas
from app.store.tables import Base
from app.store.upsert import insert_returning_ids

ALERTS = Base.metadata.tables["alerts"]
CHECKS = ("High CPU", "Disk usage", "Replica lag", "5xx rate", "Pod restarts", "Latency p99")
UPDATED = 10_000


def main() -> int:
    """Measure both schemas, alternating, and print the best of each."""
    args = _arguments()
    results: dict[str, list[dict[str, tuple[float, float]]]] = {"0001": [], "head": []}
    for _ in range(args.repeats):
        for revision in results:
            results[revision].append(_run(revision, args))
    print(f"{args.rows} rows, {args.per_request} per request, {args.per_transaction} per commit")
    print(f"{'schema':<24} {'what':<28} {'CPU µs/row':>11} {'wall µs/row':>12}")
    for revision, runs in results.items():
        label = "without index (0001)" if revision == "0001" else "with index (head)"
        for what in runs[0]:
            cpu = min(run[what][0] for run in runs)
            wall = min(run[what][1] for run in runs)
            print(f"{label:<24} {what:<28} {cpu:>11.1f} {wall:>12.1f}")
    inserts = [[run["insert"][0] for run in runs] for runs in results.values()]
    print(f"\nindex cost per inserted row: {min(inserts[1]) - min(inserts[0]):.1f} µs CPU", end="")
    print(f" (medians {statistics.median(inserts[1]) - statistics.median(inserts[0]):.1f})")
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows inserted (100000)")
    parser.add_argument("--per-request", type=int, default=100, help="rows per request (100)")
    parser.add_argument("--per-transaction", type=int, default=1000, help="rows per commit (1000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each schema (3)")
    return parser.parse_args(namespace=argparse.Namespace(first=1))


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", sqlite_pragmas(5.0))
    event.listen(engine, "begin", begin_immediate)
    return engine


def _rows(first: int, count: int, now: datetime) -> list[dict[str, Any]]:
    # The writer's row values (AlertRow.values()), keyed by the row's number for updates.
    rows = []
    for n in range(first, first + count):
        host = f"svc-{n % 200}-{n % 37}"
        check = CHECKS[n % len(CHECKS)]
        rows.append(
            {
                "source": "alertmanager", "dedup_key": f"alertmanager:{n:016x}",
                "status": "firing", "severity": "critical", "severity_note": None,
                "summary": f"{check} on {host}: {50 + n % 50}%",
                "labels": {"alertname": check, "instance": host, "env": "prod"},
                "started_at": now, "ended_at": None, "first_seen_at": now, "last_seen_at": now,
                "count": 1, "source_url": None, "runbook_url": None, "incident_id": None,
            }
        )  # fmt: skip
    return rows


def _timed(work: Callable[[], None], rows: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return (time.process_time() - cpu) / rows * 1e6, (time.perf_counter() - wall) / rows * 1e6


def _run(revision: str, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="skillpager-index-cost-") as directory:
        path = Path(directory) / "skillpager.db"
        command.upgrade(alembic_config(f"sqlite+aiosqlite:///{path}"), revision)
        engine = _engine(path)
        now = datetime.now(UTC)
        again = argparse.Namespace(**{**vars(args), "first": args.rows + 1, "rows": UPDATED})
        try:
            return {
                "insert": _timed(lambda: _insert(engine, args, now), args.rows),
                "update, same summary": _timed(lambda: _update(engine, args, now, ""), UPDATED),
                "update, new summary": _timed(lambda: _update(engine, args, now, "!"), UPDATED),
                # The next bulk step re-indexes the changed rows: paid by the inserts after them.
                "insert after the updates": _timed(lambda: _insert(engine, again, now), UPDATED),
            }
        finally:
            engine.dispose()


def _insert(engine: Engine, args: argparse.Namespace, now: datetime) -> None:
    end = args.first + args.rows
    for first in range(args.first, end, args.per_transaction):
        with engine.begin() as conn:
            last = min(first + args.per_transaction, end)
            for start in range(first, last, args.per_request):
                insert_returning_ids(
                    conn, ALERTS, _rows(start, min(args.per_request, last - start), now)
                )


def _update(engine: Engine, args: argparse.Namespace, now: datetime, suffix: str) -> None:
    # Every column, as the writer's flush does; spread over the table, 1,000 per commit.
    ids = range(1, args.rows + 1, max(1, args.rows // UPDATED))[:UPDATED]
    for start in range(0, UPDATED, 1000):
        rows = [
            {"id": n, **row, "summary": row["summary"] + suffix, "count": 2}
            for n in ids[start : start + 1000]
            for row in _rows(n, 1, now)
        ]
        with engine.begin() as conn:
            bulk_update_by_id(conn, ALERTS, rows)


if __name__ == "__main__":
    sys.exit(main())
