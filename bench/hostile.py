"""Hostile-input probes against a real `skillpager serve`: what an attacker or a bad day costs.

Starts the service on a fresh SQLite file (or a PostgreSQL database with `--postgres URL`),
with Twilio pointed at a local `TwilioFake`, and runs four probes, printing one line of figures
each (and a JSON summary at the end):

- **body-size**: a chunked POST of `--body-mib` MiB (default 200) to `/signin`, to
  `/api/silences` without a token and to `/webhooks/generic`: the status, the seconds until the
  answer, how much the client wrote (httpx writes it all before reading the answer; the server
  drops what it will not read), and the server's RSS growth.
- **raw-amplification**: one incident of `--alerts` alerts (20,000) of which 50 are re-sent
  `--renotify` times (200), then the incident page, its live fragment and one raw payload as a
  signed-in engineer: bytes, seconds and RSS growth per view.
- **slow-provider**: a fake Twilio that takes each SMS but never answers; `--pages` critical
  incidents (4) page by SMS: SMS received by the provider per page row (must be 1).
- **poison-batch**: `--good` good alerts (1,000) interleaved with poison ones (NUL and lone
  surrogates) from 32 concurrent senders: the share of good requests answered 202 and stored.

Exits 1 when a promise breaks (a 5xx, a body read whole, a page over 1 MB, an SMS twice, a good
request refused). Usage: `.venv/bin/python bench/hostile.py [--postgres URL]`.
"""

import argparse
import asyncio
import itertools
import json
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.support.server import ServerProcess

MIB = 1024 * 1024
PAGE_LIMIT_BYTES = 1_000_000
TWILIO_FROM = "+46700000000"


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """The process's resident set (or `VmHWM`, its peak) in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


class Report:
    """Figures per probe, and the broken promises seen."""

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}
        self.broken: list[str] = []

    def line(self, probe: str, **figures: Any) -> None:
        self.figures.setdefault(probe, []).append(figures)
        print(f"{probe:18} " + "  ".join(f"{k}={v}" for k, v in figures.items()), flush=True)

    def check(self, ok: bool, promise: str) -> None:
        if not ok:
            self.broken.append(promise)
            print(f"  BROKEN: {promise}", flush=True)


# --- body size -------------------------------------------------------------------------------


async def _chunks(total: int, sent: list[int]) -> AsyncIterator[bytes]:
    chunk = b"a=" + b"x" * (MIB - 2)
    while sent[0] < total:
        sent[0] += len(chunk)
        yield chunk


async def probe_body_size(server: ServerProcess, report: Report, body_mib: int) -> None:
    targets = [
        ("/signin", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("/api/silences", {"Content-Type": "application/json"}),
        ("/webhooks/generic", {"Content-Type": "application/json", **server.webhook_headers()}),
    ]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        for path, headers in targets:
            before = rss_mib(server.pid)
            sent = [0]
            started = time.monotonic()
            try:
                response = await client.post(
                    path, content=_chunks(body_mib * MIB, sent), headers=headers
                )
                status: int | str = response.status_code
            except httpx.TransportError as exc:  # the server may close after its 413
                status = type(exc).__name__
            seconds = time.monotonic() - started
            growth = rss_mib(server.pid) - before
            report.line(
                "body-size",
                path=path,
                status=status,
                seconds=f"{seconds:.2f}",
                sent_mib=sent[0] // MIB,
                rss_growth_mib=f"{growth:.1f}",
            )
            report.check(status != 500, f"{path}: a {body_mib} MiB body is a 500")
            report.check(seconds < 5, f"{path}: {seconds:.1f} s to answer")
            report.check(growth < 50, f"{path}: RSS grew {growth:.0f} MiB")


# --- raw amplification -----------------------------------------------------------------------


def _am_alert(fingerprint: str, n: int) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "HostileStorm", "service": "payments-db", "n": str(n)},
        "annotations": {"summary": f"storm member {n}", "description": "x" * 200},
        "startsAt": "2026-12-01T03:12:00Z",
        "fingerprint": fingerprint,
    }


def _am_body(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "4",
        "status": "firing",
        "receiver": "skillpager",
        "groupLabels": {"alertname": "HostileStorm"},
        "commonLabels": {"alertname": "HostileStorm"},
        "commonAnnotations": {},
        "alerts": alerts,
    }


async def _post_storm(client: httpx.AsyncClient, server: ServerProcess, alerts: int) -> int:
    """Posts the storm; returns the id of its incident (every alert joins the first's)."""
    incidents: set[int] = set()
    for start in range(0, alerts, 500):
        batch = [_am_alert(f"storm-{n}", n) for n in range(start, min(alerts, start + 500))]
        response = await client.post(
            "/webhooks/alertmanager", json=_am_body(batch), headers=server.webhook_headers()
        )
        response.raise_for_status()
        incidents.update(response.json()["incidents"])
    if len(incidents) != 1:
        raise RuntimeError(f"the storm opened {len(incidents)} incidents")
    return incidents.pop()


async def _renotify(client: httpx.AsyncClient, server: ServerProcess, times: int) -> None:
    batch = [_am_alert(f"storm-{n}", n) for n in range(50)]
    for _ in range(times):
        response = await client.post(
            "/webhooks/alertmanager", json=_am_body(batch), headers=server.webhook_headers()
        )
        response.raise_for_status()


async def _sign_in(client: httpx.AsyncClient, token: str) -> None:
    form = (await client.get("/signin")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    if csrf is None:
        raise RuntimeError("no CSRF field on /signin")
    answer = await client.post("/signin", data={"csrf": csrf[1], "next": "/", "token": token})
    if answer.status_code >= 400:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")


async def probe_raw_amplification(
    server: ServerProcess, report: Report, alerts: int, renotify: int
) -> None:
    token = server.create_token(engineer="anna")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as client:
        started = time.monotonic()
        incident_id = await _post_storm(client, server, alerts)
        await _renotify(client, server, renotify)
        report.line(
            "raw-amplification",
            alerts=alerts,
            renotified=f"50x{renotify}",
            posting_s=f"{time.monotonic() - started:.1f}",
        )
        await _sign_in(client, token)
        views = [
            ("page", f"/incidents/{incident_id}"),
            ("fragment", f"/incidents/{incident_id}/fragment"),
            ("raw", f"/incidents/{incident_id}/raw"),
        ]
        for name, path in views:
            before = rss_mib(server.pid)
            started = time.monotonic()
            response = await client.get(path)
            seconds = time.monotonic() - started
            growth = rss_mib(server.pid) - before
            report.line(
                "raw-amplification",
                view=name,
                status=response.status_code,
                bytes=len(response.content),
                seconds=f"{seconds:.3f}",
                rss_growth_mib=f"{growth:.1f}",
            )
            report.check(response.status_code == 200, f"{name}: {response.status_code}")
            report.check(len(response.content) < PAGE_LIMIT_BYTES, f"{name}: over 1 MB")
            report.check(growth < 50, f"{name}: RSS grew {growth:.0f} MiB")


# --- slow provider ---------------------------------------------------------------------------


def _page_rows(server: ServerProcess, incidents: set[int]) -> list[tuple[int, str, str | None]]:
    with sqlite3.connect(f"file:{server.database_path}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute(
            "SELECT id, status, provider_id FROM pages WHERE channel = 'sms'"
            " AND incident_id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(incidents)),),
        ).fetchall()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


async def probe_slow_provider(
    server: ServerProcess, fake: TwilioFake, report: Report, pages: int, timeout_s: float
) -> None:
    fake.accept_slowly(None)  # every SMS is stored at once and never answered
    incidents: set[int] = set()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        for n in range(pages):
            alert = {
                "status": "firing",
                "labels": {
                    "alertname": f"SlowProvider{n}",
                    "service": "payments-db",
                    "severity": "critical",
                },
                "annotations": {"summary": f"slow provider probe {n}"},
                "startsAt": "2026-12-01T03:12:00Z",
                "fingerprint": f"slow-{n}",
            }
            body = _am_body([alert]) | {"groupLabels": {"alertname": f"SlowProvider{n}"}}
            response = await client.post(
                "/webhooks/alertmanager", json=body, headers=server.webhook_headers()
            )
            response.raise_for_status()
            incidents.update(response.json()["incidents"])
    deadline = time.monotonic() + timeout_s * 4 + 20
    rows = _page_rows(server, incidents)
    while time.monotonic() < deadline:
        rows = _page_rows(server, incidents)
        if len(rows) >= pages and all(status == "sent" for _, status, _ in rows):
            break
        await asyncio.sleep(0.5)
    messages = [m for m in fake.messages if "slow provider probe" in m.body]
    sent = sum(1 for _, status, _ in rows if status == "sent")
    report.line(
        "slow-provider",
        page_rows=len(rows),
        rows_sent=sent,
        sms_at_provider=len(messages),
        posts_to_provider=sum(1 for r in fake.requests if r.method == "POST"),
    )
    report.check(
        len(messages) == len(rows), f"{len(messages)} SMS at the provider for {len(rows)} pages"
    )
    report.check(sent == len(rows), "a page the provider holds was not recorded sent")
    fake.clear_faults()


# --- poison batch ----------------------------------------------------------------------------


def _poison_bodies() -> Iterator[bytes]:
    # Valid JSON each: a NUL, a lone surrogate, both in a label name.
    yield b'{"summary": "nul \\u0000 here", "severity": "warning", "labels": {"service": "x"}}'
    yield b'{"summary": "lone \\ud800", "severity": "warning", "labels": {"service": "x"}}'
    yield b'{"summary": "key", "severity": "info", "labels": {"a\\u0000\\udfff": "v"}}'


async def probe_poison_batch(server: ServerProcess, report: Report, good: int) -> None:
    poison = itertools.cycle(list(_poison_bodies()))
    jobs: list[tuple[str, bytes]] = []
    for n in range(good):
        body = {"summary": f"good {n}", "severity": "info", "dedup_key": f"good-{n}"}
        jobs.append(("good", json.dumps(body).encode()))
        if n % 10 == 0:
            jobs.append(("poison", next(poison)))
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    answers: dict[str, list[int]] = {"good": [], "poison": []}
    headers = {"Content-Type": "application/json", **server.webhook_headers()}

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            kind, body = queue.get_nowait()
            response = await client.post("/webhooks/generic", content=body, headers=headers)
            answers[kind].append(response.status_code)

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        await asyncio.gather(*(sender(client) for _ in range(32)))
    good_ok = sum(1 for status in answers["good"] if 200 <= status < 300)
    statuses = sorted(set(answers["poison"]))
    report.line(
        "poison-batch",
        good=len(answers["good"]),
        good_202=good_ok,
        good_success=f"{good_ok / max(1, len(answers['good'])):.1%}",
        poison=len(answers["poison"]),
        poison_statuses=",".join(map(str, statuses)),
        seconds=f"{time.monotonic() - started:.1f}",
    )
    report.check(good_ok == len(answers["good"]), "a good request was refused")
    report.check(all(status < 500 for status in answers["poison"]), "a poison request got 5xx")


# --- main ------------------------------------------------------------------------------------


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL database URL to run on instead")
    parser.add_argument("--body-mib", type=int, default=200)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--renotify", type=int, default=200)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--good", type=int, default=1_000)
    return parser.parse_args()


async def _run(args: argparse.Namespace, directory: Path, report: Report) -> None:
    timeout_s = 2.0
    with TwilioFake() as fake:
        env = {
            "SKILLPAGER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "SKILLPAGER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "SKILLPAGER_TWILIO_FROM": TWILIO_FROM,
            "SKILLPAGER_TWILIO_API_URL": fake.url,
            "SKILLPAGER_PROVIDER_TIMEOUT_S": str(timeout_s),
            "SKILLPAGER_SENDING_STALE_S": "5",
            "SKILLPAGER_INGEST_RATE_PER_TOKEN": "1000000",
        }
        with ServerProcess(directory, env=env, database_url=args.postgres) as server:
            if args.postgres is None:  # the probe reads the SQLite file
                await probe_slow_provider(server, fake, report, args.pages, timeout_s)
            await probe_body_size(server, report, args.body_mib)
            await probe_poison_batch(server, report, args.good)
            await probe_raw_amplification(server, report, args.alerts, args.renotify)
            report.line("server", peak_rss_mib=f"{rss_mib(server.pid, 'VmHWM'):.0f}")


def main() -> int:
    args = _parse()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="skillpager-hostile-") as tmp:
        asyncio.run(_run(args, Path(tmp), report))
    print("BENCH_JSON " + json.dumps({"figures": report.figures, "broken": report.broken}))
    if report.broken:
        print(f"{len(report.broken)} promise(s) broken", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
