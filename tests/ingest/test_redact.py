"""No credential is stored with a raw event: not in the body, the headers or the URL.

PagerDuty's `routing_key` (here: our webhook token) used to be kept verbatim in raw_events and
returned by `GET /api/alerts/{id}`. Now its value is replaced in place by "REDACTED" and every
other byte of the body is kept. Tokens sent as `?token=`, Bearer or Basic never reach the
stored headers for any token source.
"""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from app.ingest.redact import PLACEHOLDER, stored_body
from app.ingest.registry import parser_for
from tests.support.app import WEBHOOK_TOKEN, RunningApp

FIXTURES = Path(__file__).parent.parent / "fixtures"
# Odd spacing and an escaped character: the stored bytes must keep both exactly.
PAGERDUTY = (
    '{ "event_action" : "trigger",\n  "routing_key" :  "'
    + WEBHOOK_TOKEN
    + '" , "payload": {"summary": "Replica lag \\u00e9", "source": "db-2", "severity": "error"},'
    ' "dedup_key": "lag"}'
)
TOKEN_SOURCES = ("alertmanager", "generic", "grafana", "azure", "gcp", "datadog")


async def _raw_events(app: RunningApp, alert_id: int) -> list[dict[str, Any]]:
    answer = await app.client.get(f"/api/alerts/{alert_id}", headers=app.reader_headers())
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["raw_events"]
    return events


@pytest.mark.parametrize("path", ["/v2/enqueue", "/webhooks/pagerduty"])
async def test_the_routing_key_is_blanked_and_every_other_byte_kept(
    app: RunningApp, path: str
) -> None:
    answer = await app.client.post(
        path, content=PAGERDUTY, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 202, answer.text
    [alert] = (await app.client.get("/api/alerts", headers=app.reader_headers())).json()["items"]
    [event] = await _raw_events(app, alert["id"])
    assert WEBHOOK_TOKEN not in json.dumps(event)
    assert event["body"] == PAGERDUTY.replace(f'"{WEBHOOK_TOKEN}"', PLACEHOLDER)


def test_a_stored_pagerduty_body_still_parses_for_replay() -> None:
    parse = parser_for("pagerduty")
    assert parse is not None
    [alert] = parse(stored_body("pagerduty", PAGERDUTY.encode()))
    assert alert.summary == "Replica lag é"


def test_sns_capability_urls_are_blanked() -> None:
    envelope = {
        "Type": "Notification",
        "Message": "{}",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&Sub=arn:x",
    }
    stored = json.loads(stored_body("cloudwatch", json.dumps(envelope).encode()))
    assert stored == envelope | {"UnsubscribeURL": "REDACTED"}


def _fixture(source: str) -> bytes:
    for path in sorted((FIXTURES / source).glob("*.json")):
        if not path.name.startswith("reject_") and not path.name.endswith(".expected.json"):
            return path.read_bytes()
    raise AssertionError(f"no accepted fixture for {source}")


@pytest.mark.parametrize("source", TOKEN_SOURCES)
@pytest.mark.parametrize("how", ["query", "bearer", "basic"])
async def test_no_token_in_stored_headers_or_body(app: RunningApp, source: str, how: str) -> None:
    headers = {"Content-Type": "application/json", "User-Agent": "probe"}
    url = f"/webhooks/{source}"
    if how == "query":
        url += f"?token={WEBHOOK_TOKEN}"
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {WEBHOOK_TOKEN}"
    else:
        headers["Authorization"] = (
            "Basic " + base64.b64encode(f"x:{WEBHOOK_TOKEN}".encode()).decode()
        )
    answer = await app.client.post(url, content=_fixture(source), headers=headers)
    assert answer.status_code == 202, answer.text
    listed = (await app.client.get("/api/alerts", headers=app.reader_headers())).json()["items"]
    assert listed
    for alert in listed:
        for event in await _raw_events(app, alert["id"]):
            assert WEBHOOK_TOKEN not in json.dumps(event)
            assert "authorization" not in {name.lower() for name in event["headers"]}
