"""An incident of 20,000 alerts and 200 re-notifications stays a small, fast page (issue 12.5).

The real `skillpager serve` on SQLite; the alerts, raw payloads and links are put in with the
store's bulk helpers (what the writer uses), as one 20,000-alert webhook and 200 re-sends of a
50-alert group would leave them. The page must stay under 1 MB and 1 s with the server's peak
RSS growing under 50 MB; raw payloads come one at a time, cut, from their own page.
"""

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.engine import Connection

from app.store.bulk import bulk_insert
from app.store.tables import Base, Incident
from app.store.upsert import insert_returning_ids
from app.web.queries import GROUPS_SHOWN, RAW_SHOWN_BYTES
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
ALERTS = 20_000
RENOTIFIED = 50  # alerts re-sent …
RENOTIFICATIONS = 200  # … this many times each
NAMES = 2_000  # distinct alertnames: 2,000 groups of 10
_START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_TABLES = Base.metadata.tables


def _alert_payload(n: int) -> dict[str, Any]:
    labels = {"alertname": f"DiskFull{n % NAMES}", "instance": f"node-{n}", "service": "storage"}
    return {"status": "firing", "labels": labels, "annotations": {"summary": f"disk {n} full"}}


def _raw(conn: Connection, body: bytes, at: datetime) -> int:
    row = {"source": "alertmanager", "received_at": at, "body": body, "headers": {}}
    row["delivery_id"] = None
    return insert_returning_ids(conn, _TABLES["raw_events"], [row])[0]


def _alert_rows(incident_id: int) -> list[dict[str, Any]]:
    rows = []
    for n in range(ALERTS):
        payload = _alert_payload(n)
        rows.append(
            {
                "source": "alertmanager",
                "dedup_key": f"scale-{n}",
                "status": "firing",
                "severity": "warning",
                "summary": payload["annotations"]["summary"],
                "labels": payload["labels"],
                "started_at": _START,
                "first_seen_at": _START,
                "last_seen_at": _START + timedelta(minutes=RENOTIFICATIONS),
                "count": 1 + (RENOTIFICATIONS if n < RENOTIFIED else 0),
                "incident_id": incident_id,
            }
        )
    return rows


def fill(database_path: Path, incident_id: int) -> list[int]:
    """The storm's rows, in one transaction; the alert ids."""
    engine = create_engine(f"sqlite:///{database_path}")
    everything = json.dumps({"alerts": [_alert_payload(n) for n in range(ALERTS)]}).encode()
    resend = json.dumps({"alerts": [_alert_payload(n) for n in range(RENOTIFIED)]}).encode()
    try:
        with engine.begin() as conn:
            ids = insert_returning_ids(conn, _TABLES["alerts"], _alert_rows(incident_id))
            first = _raw(conn, everything, _START)
            links = [{"alert_id": alert_id, "raw_event_id": first} for alert_id in ids]
            for minute in range(1, RENOTIFICATIONS + 1):
                raw_id = _raw(conn, resend, _START + timedelta(minutes=minute))
                links += [{"alert_id": a, "raw_event_id": raw_id} for a in ids[:RENOTIFIED]]
            bulk_insert(conn, _TABLES["alert_raw_events"], links)
            conn.execute(
                update(Incident).where(Incident.id == incident_id).values(alert_count=ALERTS + 1)
            )
    finally:
        engine.dispose()
    return ids


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


@contextmanager
def _signed_in(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        form = client.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        token = server.create_token()
        answer = client.post("/signin", data={"csrf": csrf.group(1), "token": token})
        assert answer.status_code == 303, answer.text
        yield client


def _incident(server: ServerProcess, name: str) -> int:
    body = {"summary": name, "severity": "warning", "labels": {"alertname": name}}
    answer = httpx.post(
        f"{server.base_url}/webhooks/generic", json=body, headers=server.webhook_headers()
    )
    assert answer.status_code == 202, answer.text
    incident: int = answer.json()["incidents"][0]
    return incident


@pytest.fixture(scope="module")
def storm(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, int, int, int]]:
    """A server with a 20,000-alert incident (and a small one to warm up on)."""
    directory = tmp_path_factory.mktemp("scale")
    env = {"SKILLPAGER_SESSION_SECRET": "scale-secret"}
    with ServerProcess(directory, env=env) as server:
        small = _incident(server, "warm-up")
        big = _incident(server, "DiskFull-storm")
        renotified = fill(server.database_path, big)[0]
        yield server, small, big, renotified


def _timed(client: httpx.Client, url: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    answer = client.get(url)
    return answer, time.perf_counter() - started


def test_the_page_of_a_20000_alert_incident_is_small_fast_and_lean(
    storm: tuple[ServerProcess, int, int, int],
) -> None:
    server, small, big, _ = storm
    with _signed_in(server) as client:
        for url in (f"/incidents/{small}", f"/incidents/{small}/fragment"):
            assert client.get(url).status_code == 200  # templates compiled, pools warm
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # reset the peak RSS
        before = _status_kib(server.pid, "VmRSS")
        answer, seconds = _timed(client, f"/incidents/{big}")
        peak_growth_kib = _status_kib(server.pid, "VmHWM") - before
    assert answer.status_code == 200
    assert len(answer.content) < 1_000_000, len(answer.content)
    assert seconds < 1.0, seconds
    assert peak_growth_kib < 50 * 1024, f"peak RSS grew {peak_growth_kib} KiB"
    page = answer.text
    assert f"Alerts ({ALERTS + 1} in {NAMES + 1} groups)" in page
    assert page.count('<article class="alert"') == GROUPS_SHOWN
    assert f"/incidents/{big}?groups={GROUPS_SHOWN}#alerts" in page
    assert "<pre" not in page  # no raw payload on the page itself


def test_show_more_pages_through_the_groups(storm: tuple[ServerProcess, int, int, int]) -> None:
    server, _, big, _ = storm
    with _signed_in(server) as client:
        first = client.get(f"/incidents/{big}").text
        second, seconds = _timed(client, f"/incidents/{big}?groups={GROUPS_SHOWN}")
        last = client.get(f"/incidents/{big}?groups={NAMES}").text
    assert second.status_code == 200
    assert seconds < 1.0
    names = set(re.findall(r"<h3>(DiskFull\d+) ", first))
    more = set(re.findall(r"<h3>(DiskFull\d+) ", second.text))
    assert len(names) == len(more) == GROUPS_SHOWN
    assert not names & more
    assert "Show more groups" not in last


def test_the_fragment_carries_no_alerts(storm: tuple[ServerProcess, int, int, int]) -> None:
    server, _, big, _ = storm
    with _signed_in(server) as client:
        answer, seconds = _timed(client, f"/incidents/{big}/fragment")
    assert answer.status_code == 200
    assert seconds < 1.0
    assert len(answer.content) < 50_000
    assert "DiskFull1 " not in answer.text
    assert "<pre" not in answer.text


def test_raw_payloads_come_one_at_a_time_and_cut(
    storm: tuple[ServerProcess, int, int, int],
) -> None:
    server, _, big, alert = storm
    with _signed_in(server) as client:
        listed = client.get(f"/incidents/{big}").text
        assert re.search(r"raw\?alert=\d+", listed)
        newest, seconds = _timed(client, f"/incidents/{big}/raw?alert={alert}")
        assert newest.status_code == 200
        assert seconds < 1.0
        assert newest.text.count("<pre") == 1
        older = re.search(r'raw\?alert=\d+&amp;at=(\d+)">Older', newest.text)
        assert older is not None
        # The 20,000-alert payload: only its first RAW_SHOWN_BYTES leave the server.
        oldest = client.get(f"/incidents/{big}/raw?alert={alert}&at={int(older.group(1)) - 199}")
    assert oldest.status_code == 200
    assert "Truncated: showing the first" in oldest.text
    assert len(oldest.content) < RAW_SHOWN_BYTES * 2
    assert "This is the oldest payload kept." in oldest.text
