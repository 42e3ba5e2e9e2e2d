"""Memory benchmark: the server's RSS and the dashboard's query latency over 1,000,000 alerts.

Migrates a fresh SQLite file, bulk-loads --alerts alert rows straight into it with sqlite3 (90
days of history over many sources and systems, ~2 % still firing and grouped into a few hundred
open incidents, resolved incidents for most of the rest, raw events and their links for the
newest --raw-share of alerts, timelines and pages), then starts `skillpager serve` on it
(tests/support/server.py's ServerProcess), signs in to the dashboard with an engineer token, and
times --requests sequential requests of each main query (after a short warm-up).

    .venv/bin/python bench/memory.py [--alerts 1000000] [--requests 200] [--explain] [--keep]

The alerts go in through the schema's triggers, so the text index (migration 0002) is built the
way the writer builds it. Prints per query p50 / p99 / max in ms and the server's CPU time per
request (steadier than latency on a busy machine), the server's RSS (VmRSS) and peak RSS
(VmHWM), and with --explain SQLite's EXPLAIN QUERY PLAN of the statements the service runs for
them. Exit status 1 when an answer was not 200, was wrong (text search answers are checked
against a plain scan, the Now page must list every open incident), a plan that should use an
index does not (with --explain), or a target was missed (RSS < 200 MB, p99 < 50 ms).
"""

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import Select

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from app.api.paging import page
from app.core.incident import OPEN_STATES
from app.store.migrate import upgrade_to_head
from app.store.search import searches
from app.store.tables import Alert, Incident, Page
from app.web.now import FULL_CARDS
from tests.support.server import ServerProcess

SOURCES = ("alertmanager", "grafana", "datadog", "cloudwatch", "azure", "gcp", "generic")
RULE_SYSTEMS = ("payments-db", "acme-network", "acme-checkout", "globex-kafka", "globex-orders")
CUSTOMERS = ("acme", "globex", "initech", *(f"customer-{n}" for n in range(30)), None)
CHECKS = ("High CPU", "Disk usage", "Replica lag", "5xx rate", "Pod restarts", "Latency p99")
ENGINEERS = ("anna", "ben", "chloe", "dev")
OPEN_INCIDENTS = 300
RESOLVED_PER_INCIDENT = 20
RSS_LIMIT_MB = 200
LATENCY_LIMIT_MS = 50


def main() -> int:
    """Load, serve, measure, report."""
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="skillpager-memory-") as directory:
        server = ServerProcess(Path(directory))
        upgrade_to_head(server.database_url)
        started = time.monotonic()
        counts = _load(server.database_path, args)
        loaded_s = time.monotonic() - started
        size_mb = server.database_path.stat().st_size / 2**20
        print(f"loaded {counts} in {loaded_s:.1f}s ({size_mb:.0f} MB file)")
        failures = _explain(server.database_path) if args.explain else []
        with server:
            token = server.create_token(engineer="anna")
            figures = _measure(server, token, args.requests, failures)
            rss, peak = _rss_mb(server.pid)
        failures += _wrong(server.database_path, figures.answers)
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="skillpager-memory-kept-"))
            for name in ("skillpager.db", "server.log"):
                (Path(directory) / name).replace(kept / name)
            print(f"kept in {kept}")
    return _report(figures, failures, rss, peak)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1_000_000, help="alert rows (1000000)")
    parser.add_argument("--firing-share", type=float, default=0.02, help="firing (0.02)")
    parser.add_argument("--raw-share", type=float, default=0.05, help="alerts with raw (0.05)")
    # 200: the 99th percentile of 50 timings is their maximum, which one preemption by another
    # process on a busy machine decides.
    parser.add_argument("--requests", type=int, default=200, help="requests per query (200)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument("--keep", action="store_true", help="keep the database and log")
    return parser.parse_args()


# --- loading ---------------------------------------------------------------------------------


def _ts(moment: datetime) -> str:
    """SQLAlchemy's SQLite DateTime text."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert(
    db: sqlite3.Connection, table: str, columns: str, rows: Iterator[tuple[Any, ...]]
) -> int:
    names = [name.strip() for name in columns.split(",")]
    marks = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608 - our constants, never input
    cursor = db.executemany(statement, rows)
    return cursor.rowcount


class _Plan:
    """Which alert is firing, its system, customer and incident: decided once, up front."""

    def __init__(self, args: argparse.Namespace, now: datetime) -> None:
        rng = random.Random(args.seed)
        self.now = now
        self.count = args.alerts
        self.start = now - timedelta(days=90)
        self.step: timedelta = timedelta(days=90) / args.alerts
        self.systems = [*RULE_SYSTEMS, *(f"svc-{n}" for n in range(200))]
        self.rng = rng
        self.firing = {i for i in range(args.alerts) if rng.random() < args.firing_share}
        self.raw_from = int(args.alerts * (1 - args.raw_share))
        # One resolved incident per RESOLVED_PER_INCIDENT alerts, then the open ones (newest).
        self.resolved_base = 1
        self.resolved_last = (args.alerts - 1) // RESOLVED_PER_INCIDENT + 1
        self.open_ids = range(self.resolved_last + 1, self.resolved_last + OPEN_INCIDENTS + 1)

    def incident_of(self, i: int) -> int | None:
        if i in self.firing:
            return self.open_ids[i % OPEN_INCIDENTS]
        if i % 10 < 6:  # most resolved alerts went through an incident
            return self.resolved_base + i // RESOLVED_PER_INCIDENT
        return None

    def at(self, i: int) -> datetime:
        return self.start + self.step * i


def _load(path: Path, args: argparse.Namespace) -> dict[str, int]:
    plan = _Plan(args, datetime.now(UTC))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    counts = {
        "incidents": _insert(db, "incidents", _INCIDENT_COLUMNS, _incidents(plan)),
        "alerts": _insert(db, "alerts", _ALERT_COLUMNS, _alerts(plan)),
        "incident_events": _insert(db, "incident_events", _EVENT_COLUMNS, _events(plan)),
        "pages": _insert(db, "pages", _PAGE_COLUMNS, _pages(plan)),
    }
    raw = list(_raw_events(plan))
    counts["raw_events"] = _insert(db, "raw_events", _RAW_COLUMNS, (r[1:] for r in raw))
    counts["alert_raw_events"] = _insert(
        db, "alert_raw_events", "alert_id, raw_event_id", ((r[0], n + 1) for n, r in enumerate(raw))
    )
    db.execute("COMMIT")  # no ANALYZE: the service never runs it, so neither do we
    db.close()
    return counts


_INCIDENT_COLUMNS = (
    "id, group_key, state, system, customer, severity, summary, unrouted, alert_count,"
    " opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, next_action_at,"
    " decision, rules_version, cycle, step_index, round, flags"
)


def _incidents(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(1)
    decision = json.dumps({"reasons": [{"rule": "system", "why": "matched service label"}]})
    for n in plan.open_ids:
        state = "triggered" if n % 20 < 14 else "acknowledged" if n % 20 < 19 else "snoozed"
        opened = plan.now - timedelta(minutes=rng.randrange(5, 3 * 24 * 60))
        acked = _ts(opened + timedelta(minutes=3)) if state != "triggered" else None
        system = plan.systems[n % len(plan.systems)]
        yield (
            n, f"open-{n}", state, system, CUSTOMERS[n % len(CUSTOMERS)], "critical",
            f"{CHECKS[n % len(CHECKS)]} on {system}", 0, 0, _ts(opened), acked,
            "anna" if acked else None, None, None, _ts(plan.now + timedelta(minutes=5)),
            decision, "bench", 1, 0, 0, "{}",
        )  # fmt: skip
    for n in range(plan.resolved_base, plan.resolved_last + 1):
        first = (n - plan.resolved_base) * RESOLVED_PER_INCIDENT
        opened, system = plan.at(first), plan.systems[n % len(plan.systems)]
        yield (
            n, f"resolved-{n}", "resolved", system, CUSTOMERS[n % len(CUSTOMERS)], "warning",
            f"{CHECKS[n % len(CHECKS)]} on {system}", 0, RESOLVED_PER_INCIDENT, _ts(opened),
            None, None, _ts(opened + timedelta(hours=1)), "auto", None, decision, "bench", 1, 0,
            0, "{}",
        )  # fmt: skip


_ALERT_COLUMNS = (
    "id, source, dedup_key, status, severity, severity_note, summary, labels, started_at,"
    " ended_at, first_seen_at, last_seen_at, count, source_url, runbook_url, incident_id"
)


def _alerts(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    rng = plan.rng
    for i in range(plan.count):
        source = SOURCES[i % len(SOURCES)]
        system = plan.systems[rng.randrange(len(plan.systems))]
        host = f"{system}-{rng.randrange(40)}"
        check = CHECKS[rng.randrange(len(CHECKS))]
        firing = i in plan.firing
        key = f"{source}:f{i}" if firing else f"{source}:{host}-{check[:4].lower()}"
        started = plan.at(i)
        ended = None if firing else _ts(started + timedelta(minutes=rng.randrange(1, 240)))
        severity = "critical" if i % 7 == 0 else "warning" if i % 7 < 5 else "info"
        labels = {"alertname": check, "service": system, "host": host, "env": "prod"}
        yield (
            i + 1, source, key, "firing" if firing else "resolved", severity, None,
            f"{check} on {host}: {rng.randrange(50, 100)}%", json.dumps(labels), _ts(started),
            ended, _ts(started), ended or _ts(plan.now), 1 + rng.randrange(5),
            f"https://mon.example/{host}", None, plan.incident_of(i),
        )  # fmt: skip


_EVENT_COLUMNS = "incident_id, at, kind, actor, channel, note"


def _events(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    for n in plan.open_ids:
        yield (n, _ts(plan.now - timedelta(hours=2)), "opened", None, None, None)
        if n % 20 >= 14:
            yield (n, _ts(plan.now - timedelta(hours=1)), "acknowledged", "anna", "sms", None)
    for n in range(plan.resolved_base, plan.resolved_last + 1):
        at = plan.at((n - plan.resolved_base) * RESOLVED_PER_INCIDENT)
        yield (n, _ts(at), "opened", None, None, None)
        yield (n, _ts(at + timedelta(hours=1)), "resolved", None, None, "all alerts resolved")


_PAGE_COLUMNS = (
    "incident_id, engineer, channel, address, kind, cycle, step, round, text, payload, status,"
    " attempts, next_attempt_at, created_at, sent_at"
)


def _pages(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    for n in plan.open_ids:
        for round_ in range(1 + n % 3):
            at = _ts(plan.now - timedelta(minutes=90 - round_ * 5))
            engineer = ENGINEERS[(n + round_) % len(ENGINEERS)]
            yield (
                n, engineer, "sms", "+15550000000", "page", 1, 0, round_,
                f"incident {n}", "{}", "delivered", 1, at, at, at,
            )  # fmt: skip


_RAW_COLUMNS = "source, received_at, body, headers, delivery_id"


def _raw_events(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    """(alert id, raw event columns…): one per recent alert, a second for firing ones."""
    for i in range(plan.raw_from, plan.count):
        source = SOURCES[i % len(SOURCES)]
        body = (
            json.dumps(
                {"status": "firing", "alerts": [{"fingerprint": f"{i:016x}", "labels": {"n": i}}]}
            ).encode()
            + b" " * 400
        )
        headers = json.dumps({"content-type": "application/json", "user-agent": "bench"})
        for repeat in range(2 if i in plan.firing else 1):
            at = plan.at(i) + timedelta(minutes=repeat)
            yield (i + 1, source, _ts(at), body, headers, None)


# --- measuring -------------------------------------------------------------------------------


# Text searches, with the term their answer is checked against (a plain scan).
SEARCHES = {
    "GET /api/alerts?q=svc-17-3 (common)": "svc-17-3",
    "GET /api/alerts?q=payments (rare)": "payments-db-39",
}


def _queries(firing_id: int) -> dict[str, str]:
    return {
        "GET /api/alerts": "/api/alerts",
        "GET /api/alerts?status=firing": "/api/alerts?status=firing",
        "GET /api/alerts?severity=critical": "/api/alerts?severity=critical",
        **{name: f"/api/alerts?q={term}" for name, term in SEARCHES.items()},
        "GET /api/incidents?state=triggered": "/api/incidents?state=triggered",
        "GET /api/alerts/{id}": f"/api/alerts/{firing_id}",
        "GET / (Now page)": "/",
        "GET /fragments/now (its live update)": "/fragments/now",
    }


def _sign_in(client: httpx.Client, token: str) -> None:
    form = client.get("/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if found is None:
        raise RuntimeError("no CSRF field on /signin")
    answer = client.post("/signin", data={"csrf": found.group(1), "token": token, "next": "/"})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}")


@dataclass
class _Figures:
    """Per query: latencies (ms), the server's CPU per request (ms), the last answer."""

    timings: dict[str, list[float]] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    answers: dict[str, httpx.Response] = field(default_factory=dict)


def _measure(server: ServerProcess, token: str, requests: int, failures: list[str]) -> _Figures:
    figures = _Figures()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, timeout=30, headers=headers) as client:
        _sign_in(client, token)
        newest_firing = client.get("/api/alerts?status=firing&limit=1").json()["items"][0]["id"]
        for name, url in _queries(newest_firing).items():
            for _ in range(5):  # warm SQLite's page cache and the templates
                client.get(url)
            cpu_before = _cpu_seconds(server.pid)
            timings: list[float] = []
            for _ in range(requests):
                started = time.perf_counter()
                answer = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    failures.append(f"{name}: {answer.status_code}")
                    break
            figures.cpu_ms[name] = (_cpu_seconds(server.pid) - cpu_before) / len(timings) * 1000
            figures.timings[name], figures.answers[name] = timings, answer
    return figures


def _cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 of proc(5) (utime, stime), counted after the ")" closing the name. The
    # server's CPU per request does not change with what else the machine runs; latency does.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrong(path: Path, answers: dict[str, httpx.Response]) -> list[str]:
    """Answers that are fast but wrong: searches unlike a scan, open incidents missing."""
    db = sqlite3.connect(path)
    wrong = []
    for name, term in SEARCHES.items():
        pattern = f"%{term}%"
        scanned = [
            row[0]
            for row in db.execute(
                "SELECT id FROM alerts WHERE summary LIKE ? OR dedup_key LIKE ?"
                " ORDER BY id DESC LIMIT 100",
                (pattern, pattern),
            )
        ]
        found = [item["id"] for item in answers[name].json()["items"]]
        if found != scanned or not found:
            wrong.append(f"{name}: {len(found)} alerts, a scan finds {len(scanned)}")
    opened = {row[0] for row in db.execute(_OPEN_IDS)}
    listed = {int(n) for n in re.findall(r'id="incident-(\d+)"', answers["GET / (Now page)"].text)}
    if listed != opened:
        wrong.append(f"GET / (Now page): lists {len(listed)} of {len(opened)} open incidents")
    db.close()
    return wrong


_OPEN_IDS = "SELECT id FROM incidents WHERE state != 'resolved'"


def _rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    return int(values["VmRSS"]) / 1024, int(values["VmHWM"]) / 1024


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _report(figures: _Figures, failures: list[str], rss: float, peak: float) -> int:
    print(f"\n{'query':<40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'server CPU ms':>14}")
    slow = []
    for name, timings in figures.timings.items():
        p50, p99 = statistics.median(timings), _percentile(timings, 0.99)
        cpu = figures.cpu_ms[name]
        print(f"{name:<40} {p50:>8.1f} {p99:>8.1f} {max(timings):>8.1f} {cpu:>14.1f}")
        if p99 >= LATENCY_LIMIT_MS:
            slow.append(name)
    print(f"\nserver RSS {rss:.0f} MB (peak {peak:.0f} MB; target < {RSS_LIMIT_MB} MB)")
    for failure in failures:
        print(f"FAILED {failure}")
    for name in slow:
        print(f"SLOW   {name} (p99 >= {LATENCY_LIMIT_MS} ms)")
    return 1 if failures or slow or peak >= RSS_LIMIT_MB else 0


# --- query plans -----------------------------------------------------------------------------


def _plans() -> dict[str, Select[Any]]:
    """The statements the service runs for the measured queries (same shape, example values)."""
    newest = page(select(Alert), Alert.id, cursor=None, limit=100)
    [(indexed, rowid), (newer, _), (stale, _)] = searches(
        select(Alert), "payments-db-39", indexed=True
    )
    [(firing, _)] = searches(select(Alert).where(Alert.status == "firing"), "svc", indexed=False)
    open_incidents = select(Incident).where(Incident.state.in_(OPEN_STATES))
    return {
        "alerts, first page": newest,
        "alerts, status=firing": newest.where(Alert.status == "firing"),
        "alerts, severity=critical": newest.where(Alert.severity == "critical"),
        "alerts, q= (rows indexed)": page(indexed, rowid, cursor=None, limit=100),
        "alerts, q= (rows newer than the index)": page(newer, Alert.id, cursor=None, limit=100),
        "alerts, q= (rows changed since indexed)": page(stale, Alert.id, cursor=None, limit=100),
        "alerts, q= with status=firing": page(firing, Alert.id, cursor=None, limit=100),
        "incidents, state=triggered": page(
            select(Incident).where(Incident.state == "triggered"),
            Incident.id,
            cursor=None,
            limit=100,
        ),
        "now page, open incidents": open_incidents,
        "now page, their pages": select(Incident.id, Page.engineer, Page.status)
        .join(Incident, Incident.id == Page.incident_id)
        .where(
            Incident.id.in_(list(range(1, FULL_CARDS + 1))),
            Page.cycle == Incident.cycle,
            Page.kind.in_(("page", "bundle", "reminder")),
        ),
        "writer, open-row lookup": select(Alert).where(
            Alert.source == "generic",
            Alert.dedup_key.in_(("generic:a", "generic:b")),
            Alert.status == "firing",
        ),
    }


# A plan that must use an index (a full scan of a big table there is the slowness this measures).
EXPECTED = {
    "alerts, q= (rows indexed)": "SCAN alerts_fts VIRTUAL TABLE INDEX",
    "alerts, q= (rows newer than the index)": "SEARCH alerts USING INTEGER PRIMARY KEY",
    "alerts, q= (rows changed since indexed)": "SEARCH alerts USING INTEGER PRIMARY KEY",
    "alerts, q= with status=firing": "USING INDEX ix_alerts_firing",
    "now page, open incidents": "USING INDEX ix_incidents_state_next",
    "now page, their pages": "SEARCH pages USING",  # by incident id (which index: SQLite's pick)
    "writer, open-row lookup": "USING INDEX uq_alerts_open_key",
}


def _explain(path: Path) -> list[str]:
    """Print each plan; the ones missing the index they need."""
    db = sqlite3.connect(path)
    missing = []
    for name, statement in _plans().items():
        sql = str(
            statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
        )
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()]
        print(f"\n{name}:\n" + "\n".join(f"  {line}" for line in plan))
        if EXPECTED.get(name, "") not in "\n".join(plan):
            missing.append(f"plan of {name}: no {EXPECTED[name]}")
    db.close()
    return missing


if __name__ == "__main__":
    sys.exit(main())
