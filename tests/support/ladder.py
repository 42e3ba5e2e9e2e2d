"""tests/fixtures/rules_ladder on a `skillpager serve` subprocess: who it pages, in what order,
alerts to post to it, and its pages read back (the API's view plus the provider id).

The crash and failpoint tests (tests/e2e) and the crash benchmark (bench/crash.py) share these.
"""

import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.fakes.twilio_server import SentMessage, TwilioFake
from tests.support.alertmanager import firing_alert, webhook_message
from tests.support.app import FIXTURES
from tests.support.server import ServerProcess

LADDER_RULES = FIXTURES / "rules_ladder"
PHONES = {
    "anna": "+46701112233",
    "bo": "+46702223344",
    "carl": "+46703334455",
    "dana": "+12125550101",
    "erik": "+46704445566",
}
# rules_ladder ranks bo (postgres 5), carl (4), dana and erik (3); anna leads.
LADDER = [("bo",), ("carl",), ("dana", "erik"), ("anna",)]
FAST_ACK_TIMEOUT_S = 3
WAIT_S = 30.0
T = TypeVar("T")


@dataclass(frozen=True)
class PageRow:
    """A page as the incident API shows it, plus the provider id read from the database."""

    id: int
    engineer: str
    channel: str
    kind: str
    cycle: int
    step: int
    round: int
    status: str
    created_at: datetime
    provider_id: str | None


def fast_ladder(directory: Path) -> Path:
    """A copy of rules_ladder whose ladder moves on every FAST_ACK_TIMEOUT_S seconds."""
    rules = directory / "rules"
    shutil.copytree(LADDER_RULES, rules)
    policy = (rules / "policy.yaml").read_text()
    assert "ack_timeout: 5m" in policy
    (rules / "policy.yaml").write_text(
        policy.replace("ack_timeout: 5m", f"ack_timeout: {FAST_ACK_TIMEOUT_S}s")
    )
    return rules


def critical_message(
    name: str, services: tuple[str, ...] = ("db",), *, prefix: str = "crash"
) -> dict[str, Any]:
    """A webhook with a critical alert per service (fingerprint `<prefix>-<name>-<service>`)."""
    alerts = [
        firing_alert(
            f"{prefix}-{name}-{service}",
            f"{name} {service} is down",
            alertname=name,
            service=service,
            severity="critical",
        )
        for service in services
    ]
    return webhook_message(name, alerts)


def fire(server: ServerProcess, *, name: str) -> int:
    """Post one critical alert for service=db; the id of the incident it opened."""
    (incident_id,) = fire_many(server, name=name, services=("db",))
    return incident_id


def fire_many(server: ServerProcess, *, name: str, services: tuple[str, ...]) -> list[int]:
    """One webhook post with a critical alert per service; the ids of the incidents opened."""
    response = httpx.post(
        f"{server.base_url}/webhooks/alertmanager",
        json=critical_message(name, services),
        headers=server.webhook_headers(),
        timeout=10.0,
    )
    assert response.status_code == 202, response.text
    incident_ids: list[int] = response.json()["incidents"]
    assert len(incident_ids) == len(services), response.text
    return incident_ids


def pages(server: ServerProcess, token: str, incident_id: int) -> list[PageRow]:
    """The incident's pages from `GET /api/incidents/{id}`, with provider ids from the file."""
    response = httpx.get(
        f"{server.base_url}/api/incidents/{incident_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    response.raise_for_status()
    provider_ids = _provider_ids(server.database_path, incident_id)
    return [_page_row(item, provider_ids) for item in response.json()["pages"]]


def _page_row(item: dict[str, Any], provider_ids: dict[int, str | None]) -> PageRow:
    return PageRow(
        id=item["id"],
        engineer=item["engineer"],
        channel=item["channel"],
        kind=item["kind"],
        cycle=item["cycle"],
        step=item["step"],
        round=item["round"],
        status=item["status"],
        created_at=datetime.fromisoformat(item["created_at"]),
        provider_id=provider_ids.get(item["id"]),
    )


def _provider_ids(database: Path, incident_id: int) -> dict[int, str | None]:
    # The API masks provider details; the test reads them straight from the SQLite file.
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
        found = conn.execute(
            "SELECT id, provider_id FROM pages WHERE incident_id = ?", (incident_id,)
        ).fetchall()
    return dict(found)


def wait_for(what: str, check: Callable[[], T | None], server: ServerProcess) -> T:
    """Poll `check` until it returns something (pages, say: not None); fails with the log after
    WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{server.log_tail()}")


def sms_to(fake: TwilioFake, engineer: str) -> list[SentMessage]:
    """The SMS the fake accepted for `engineer` (by name)."""
    return fake.messages_to(PHONES[engineer])
