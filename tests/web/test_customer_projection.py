"""A customer sees one projection of an incident, in the JSON API and on every page alike.

An acme incident is paged, escalated (with a note), handed over, given internal and shared
notes and acknowledged; another is resolved with a note. Every field of every JSON answer and
every page a customer token or session can read must hold none of the internal notes, engineer
ids, names, phone numbers or Slack ids, and no internal event kind. The same reads as an
engineer do hold them, so the test cannot pass on empty data.
"""

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.clock import FrozenClock
from app.projection import CUSTOMER_EVENT_KINDS
from app.store.tokens import TokenKind
from tests.support.app import RunningApp, app_settings, running_app
from tests.web.support import browser_client, login

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
INTERNAL = "INTERNAL-NOTE bo restarted the primary by hand"
SHARED = "We are restoring service; next update in 30 minutes."
ESCALATE = "ESCALATE-NOTE need a payments expert"
RESOLVE = "RESOLVE-NOTE root cause was a bad deploy by carl"
ACK = "ACK-NOTE looking now"
# Engineer ids, names, phones and Slack ids of the fixture team, and internal event kinds.
PEOPLE = re.compile(r"\b(anna|bo|carl)\b|Anna Berg|Bo Lind|Carl Ek|\+4670|U01ANNA|U02BO", re.I)
INTERNAL_TEXT = (INTERNAL, ESCALATE, RESOLVE, ACK)
INTERNAL_KINDS = re.compile(r"\b(paged|escalated|fallback|handover|reminder|bundle)\b")


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[RunningApp]:
    settings = app_settings(database_url, session_secret="test-secret")
    async with running_app(settings, FrozenClock(START)) as running:
        yield running


async def _fire(app: RunningApp, labels: dict[str, str], key: str) -> int:
    body = {"summary": f"{key} down", "severity": "critical", "dedup_key": key, "labels": labels}
    answer = await app.client.post("/webhooks/generic", json=body, headers=app.webhook_headers())
    assert answer.status_code == 202, answer.text
    await app.services.escalation.settle()
    incident_id: int = answer.json()["incidents"][0]
    return incident_id


async def _act(app: RunningApp, incident_id: int, action: str, body: dict[str, Any]) -> None:
    answer = await app.client.post(
        f"/api/incidents/{incident_id}/{action}", json=body, headers=app.reader_headers()
    )
    assert answer.status_code == 200, answer.text


async def _history(app: RunningApp) -> tuple[int, int]:
    """An open acme incident with the whole internal story, and a resolved one."""
    open_id = await _fire(app, {"service": "payments-db"}, "payments-db-cpu")
    clock = app.services.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(7):  # past the first ack timeout: the ladder pages its next step
        clock.advance(timedelta(minutes=1))
        await app.services.escalation.cycle()
    await _act(app, open_id, "escalate", {"note": ESCALATE})
    await _act(app, open_id, "handover", {"to": "bo", "note": ESCALATE})
    await app.services.escalation.cycle()
    async with browser_client(app) as team:
        csrf = login(team, app, "engineer", "anna", app.engineer_token)
        for text, visibility in ((INTERNAL, "internal"), (SHARED, "shared")):
            form = {"csrf": csrf, "text": text, "visibility": visibility}
            answer = await team.post(f"/incidents/{open_id}/notes", data=form)
            assert answer.status_code == 303, answer.text
    await _act(app, open_id, "ack", {"note": ACK})
    resolved_id = await _fire(app, {"customer": "acme", "alertname": "DiskFull"}, "disk")
    await _act(app, resolved_id, "ack", {"note": ACK})
    await _act(app, resolved_id, "resolve", {"note": RESOLVE})
    return open_id, resolved_id


def _strings(value: Any) -> Iterator[str]:
    """Every key and string value in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _leaks(text: str) -> list[str]:
    found = [secret for secret in INTERNAL_TEXT if secret in text]
    found += [match.group(0) for match in PEOPLE.finditer(text)]
    return found + [match.group(0) for match in INTERNAL_KINDS.finditer(text)]


async def _api_reads(app: RunningApp, headers: dict[str, str], ids: tuple[int, ...]) -> list[Any]:
    urls = ["/api/incidents", "/api/alerts", *(f"/api/incidents/{i}" for i in ids)]
    bodies = []
    for url in urls:
        answer = await app.client.get(url, headers=headers)
        assert answer.status_code == 200, f"{url}: {answer.text}"
        bodies.append(answer.json())
    for item in bodies[1]["items"]:
        answer = await app.client.get(f"/api/alerts/{item['id']}", headers=headers)
        assert answer.status_code == 200, answer.text
        bodies.append(answer.json())
    return bodies


async def _pages(app: RunningApp, kind: str, subject: str, token: str, ids: tuple[int, ...]) -> str:
    urls = ["/", "/fragments/now", "/history", "/history.csv"]
    urls += [f"/incidents/{i}{tail}" for i in ids for tail in ("", "/fragment")]
    texts = []
    async with browser_client(app) as client:
        login(client, app, kind, subject, token)
        for url in urls:
            answer = await client.get(url)
            assert answer.status_code == 200, f"{url}: {answer.status_code}"
            texts.append(f"--- {url}\n{answer.text}")
    return "\n".join(texts)


async def test_customer_json_and_pages_hold_nothing_internal(app: RunningApp) -> None:
    ids = await _history(app)
    customer = await app.token(TokenKind.CUSTOMER, "acme")

    team_json = json.dumps(await _api_reads(app, app.reader_headers(), ids))
    team_pages = await _pages(app, "engineer", "anna", app.engineer_token, ids)
    for text in (team_json, team_pages):  # the data really holds what must not leak
        for needed in (INTERNAL, RESOLVE, "paged", "bo"):
            assert needed in text, needed

    bodies = await _api_reads(app, {"Authorization": f"Bearer {customer}"}, ids)
    for body in bodies:
        for field in _strings(body):
            assert not _leaks(field), f"customer JSON leaks {_leaks(field)} in {field!r}"
    for detail in bodies[2:4]:
        kinds = {entry["kind"] for entry in detail["timeline"]}
        assert kinds <= {*CUSTOMER_EVENT_KINDS, "note"}, kinds
        assert [e["note"] for e in detail["timeline"] if e["note"]] in ([SHARED], [])
    assert SHARED in json.dumps(bodies[2])

    pages = await _pages(app, "customer", "acme", customer, ids)
    assert not _leaks(pages), _leaks(pages)
    assert SHARED in pages


async def test_api_and_page_show_the_same_timeline(app: RunningApp) -> None:
    open_id, _ = await _history(app)
    customer = await app.token(TokenKind.CUSTOMER, "acme")
    answer = await app.client.get(
        f"/api/incidents/{open_id}", headers={"Authorization": f"Bearer {customer}"}
    )
    api_kinds = [entry["kind"] for entry in answer.json()["timeline"]]
    async with browser_client(app) as client:
        login(client, app, "customer", "acme", customer)
        html = (await client.get(f"/incidents/{open_id}/fragment")).text
    page_kinds = re.findall(r'<li class="ev ev-([a-z_]+)">', html)
    assert api_kinds == page_kinds
    assert {"opened", "acknowledged", "note"} <= set(api_kinds)
