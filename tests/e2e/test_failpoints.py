"""The two crash-test failpoints test_paging_crash.py does not cover.

- `after_commit_before_202`: the writer committed a webhook's alerts and the process dies before
  answering. The monitor never hears 202 and retries; the retry must land on the same open alert
  row (count 2), and the incident pages bo exactly once.
- `after_claim`: the sender claimed a page (`sending`) and died before calling any provider. The
  restart's provider lookup finds nothing at Twilio, so it sends the SMS once.
"""

import sqlite3
from collections.abc import Callable

import httpx
import pytest

from tests.fakes.twilio_server import TwilioFake
from tests.support import ladder
from tests.support.cycles import wait_for_engine_cycles
from tests.support.ladder import LADDER_RULES, WAIT_S, PageRow
from tests.support.providers import twilio_env
from tests.support.server import MakeServer, ServerProcess

pytestmark = pytest.mark.slow


def _post(server: ServerProcess, name: str) -> httpx.Response | None:
    """Post one critical db alert; None when the connection broke without an answer."""
    try:
        return httpx.post(
            f"{server.base_url}/webhooks/alertmanager",
            json=ladder.critical_message(name, prefix="failpoint"),
            headers=server.webhook_headers(),
            timeout=10.0,
        )
    except httpx.TransportError:
        return None


def _alerts(server: ServerProcess, token: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{server.base_url}/api/alerts",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    response.raise_for_status()
    items: list[dict[str, object]] = response.json()["items"]
    return items


def _rows(server: ServerProcess) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{server.database_path}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(
            "SELECT incident_id, engineer, channel, status FROM pages ORDER BY id"
        ).fetchall()


def _all_sent(
    server: ServerProcess, token: str, incident_id: int
) -> Callable[[], list[PageRow] | None]:
    def check() -> list[PageRow] | None:
        pages = ladder.pages(server, token, incident_id)
        return pages if pages and all(p.status == "sent" for p in pages) else None

    return check


def test_crash_after_commit_before_202_keeps_the_alert_and_the_retry_dedups(
    twilio_fake: TwilioFake,
    make_server: MakeServer,
) -> None:
    server = make_server(
        LADDER_RULES,
        twilio_env(
            twilio_fake, SKILLPAGER_TESTING="1", SKILLPAGER_FAILPOINT="after_commit_before_202"
        ),
    )
    server.start()
    token = server.create_token()

    answer = _post(server, "CommitCrash")
    assert answer is None, f"expected no answer, got {answer.status_code}: {answer.text}"
    code = server.wait_exit(timeout_s=WAIT_S)
    assert code == 137, f"expected the failpoint's exit 137, got {code}:\n{server.log_tail()}"

    server.update_env({"SKILLPAGER_TESTING": None, "SKILLPAGER_FAILPOINT": None})
    server.start()
    stored = _alerts(server, token)
    assert [(a["dedup_key"], a["count"]) for a in stored] == [
        ("alertmanager:failpoint-CommitCrash-db", 1)
    ], "the committed alert must survive the crash"
    incident_id = stored[0]["incident_id"]
    assert isinstance(incident_id, int)

    retry = _post(server, "CommitCrash")  # the monitor never heard 202: it posts again
    assert retry is not None, "the retry got no answer"
    assert retry.status_code == 202, retry.text
    assert retry.json()["incidents"] == [incident_id], retry.text
    stored = _alerts(server, token)
    assert [(a["id"], a["count"]) for a in stored] == [(stored[0]["id"], 2)], stored

    pages = ladder.wait_for("bo's page to be sent", _all_sent(server, token, incident_id), server)
    wait_for_engine_cycles(server)  # a second page would show up by now
    pages = ladder.pages(server, token, incident_id)
    assert [(p.engineer, p.channel, p.step, p.round, p.status) for p in pages] == [
        ("bo", "sms", 0, 0, "sent")
    ]
    to_bo = ladder.sms_to(twilio_fake, "bo")
    assert len(to_bo) == 1, f"bo got {len(to_bo)} SMS for one incident"
    assert len(twilio_fake.messages) == 1
    assert pages[0].provider_id == to_bo[0].sid


def test_crash_after_claim_sends_the_page_once_after_restart(
    twilio_fake: TwilioFake,
    make_server: MakeServer,
) -> None:
    server = make_server(
        LADDER_RULES,
        twilio_env(twilio_fake, SKILLPAGER_TESTING="1", SKILLPAGER_FAILPOINT="after_claim"),
    )
    server.start()
    token = server.create_token()

    _post(server, "ClaimCrash")  # the 202 may or may not beat the sender's crash
    code = server.wait_exit(timeout_s=WAIT_S)
    assert code == 137, f"expected the failpoint's exit 137, got {code}:\n{server.log_tail()}"
    before = _rows(server)
    assert [row[1:] for row in before] == [("bo", "sms", "sending")], before
    assert twilio_fake.messages == [], "nothing may reach Twilio before the crash"
    incident_id = before[0][0]
    assert isinstance(incident_id, int)

    server.update_env({"SKILLPAGER_TESTING": None, "SKILLPAGER_FAILPOINT": None})
    server.start()
    pages = ladder.wait_for(
        "the claimed page to be settled", _all_sent(server, token, incident_id), server
    )
    wait_for_engine_cycles(server)  # a wrong re-send would show up by now
    pages = ladder.pages(server, token, incident_id)

    assert [(p.engineer, p.channel, p.step, p.round, p.status) for p in pages] == [
        ("bo", "sms", 0, 0, "sent")
    ]
    to_bo = ladder.sms_to(twilio_fake, "bo")
    assert len(to_bo) == 1, f"bo got {len(to_bo)} SMS for one page: {[m.body for m in to_bo]}"
    assert f"#{incident_id}]" in to_bo[0].body
    assert pages[0].provider_id == to_bo[0].sid
    assert len(twilio_fake.messages) == 1
