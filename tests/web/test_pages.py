"""Dashboard behaviour through real HTTP: sign-in, customer links, notes, actions, People."""

import logging
import re
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Row, insert, select

from app.config import Settings
from app.store.tables import Base, EngineerState, Incident, IncidentEvent, Page, SignInCode
from app.store.tokens import TokenKind, list_tokens, revoke_token
from app.web.now import FULL_CARDS
from app.web.sessions import COOKIE, session_secret
from tests.web.support import Seeded, browser_client, csrf_of, login
from tests.web.support import code_in as _code_in
from tests.web.support import record_sms as _record_sms


async def _get(seeded: Seeded, model: type[Base], *where: ColumnElement[bool]) -> list[Row[Any]]:
    """The rows of `model` matching `where` (their columns as attributes)."""
    async with seeded.running.services.engine.connect() as conn:
        return list(await conn.execute(select(model).where(*where)))


async def test_token_sign_in_sets_a_protected_session(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        first = await client.get("/", follow_redirects=True)
        assert first.url.path == "/signin"
        form = {"csrf": csrf_of(first.text), "token": seeded.running.engineer_token, "next": "/"}
        answer = await client.post("/signin", data=form)
        assert (answer.status_code, answer.headers["location"]) == (303, "/")
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        now = await client.get("/")
        assert "(2 open) Now" in now.text
        assert "Ack" in now.text


async def test_a_tampered_session_is_no_session(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        login(client, seeded.running, "customer", "acme", seeded.acme_token)
        value = client.cookies[COOKIE]
        client.cookies.set(COOKIE, value.replace("customer", "engineer")[:-2] + "xx")
        assert (await client.get("/")).status_code == 303


async def test_customer_link_starts_a_session_and_revocation_ends_it(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        confirm = await client.get(f"/?token={seeded.acme_token}")
        assert confirm.status_code == 200
        assert "Continue as acme" in confirm.text
        form = {"csrf": csrf_of(confirm.text), "token": seeded.acme_token, "next": "/"}
        answer = await client.post("/signin/link", data=form)
        assert (answer.status_code, answer.headers["location"]) == (303, "/")
        again = await client.get(f"/?token={seeded.acme_token}")
        assert (again.status_code, again.headers["location"]) == (303, "/")
        page = await client.get("/")
        assert "down" in page.text
        assert "globex" not in page.text
        assert "Ack" not in page.text
        engineer_link = await client.get(f"/?token={seeded.running.engineer_token}")
        assert engineer_link.status_code == 401  # engineer tokens never travel in URLs
        async with seeded.running.services.engine.begin() as conn:
            for info in await list_tokens(conn):
                if info.kind is TokenKind.CUSTOMER and info.subject == "acme":
                    await revoke_token(
                        conn, token_id=info.id, now=seeded.running.services.clock.now()
                    )
        assert (await client.get("/")).status_code == 303


async def test_notes_are_internal_or_shared(seeded: Seeded) -> None:
    incident = seeded.acme_incident
    async with browser_client(seeded.running) as team, browser_client(seeded.running) as acme:
        csrf = login(team, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        for text, visibility in (("db failover started", "shared"), ("bo owes us", "internal")):
            form = {"csrf": csrf, "text": text, "visibility": visibility}
            assert (await team.post(f"/incidents/{incident}/notes", data=form)).status_code == 303
        team_view = await team.get(f"/incidents/{incident}")
        assert "db failover started" in team_view.text
        assert "bo owes us" in team_view.text
        login(acme, seeded.running, "customer", "acme", seeded.acme_token)
        shown = await acme.get(f"/incidents/{incident}")
        assert "db failover started" in shown.text
        assert "bo owes us" not in shown.text
        assert "paging bo" not in shown.text
        assert "Add a note" not in shown.text


async def test_ack_from_the_dashboard_goes_through_the_service(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        url = f"/incidents/{seeded.acme_incident}/ack"
        assert (await client.post(url, data={"csrf": csrf, "next": "/"})).status_code == 303
        again = await client.post(
            f"/incidents/{seeded.acme_incident}/escalate", data={"csrf": csrf}
        )
        assert again.status_code == 303
        fragment = await client.get(f"/incidents/{seeded.acme_incident}/fragment")
    assert "acknowledged" in fragment.text
    assert "escalated" in fragment.text
    events = await _get(seeded, IncidentEvent, IncidentEvent.incident_id == seeded.acme_incident)
    assert ("acknowledged", "anna", "web") in {(e.kind, e.actor, e.channel) for e in events}


async def test_one_time_code_by_sms(seeded: Seeded) -> None:
    recorder = _record_sms(seeded)
    async with browser_client(seeded.running) as client:
        csrf = csrf_of((await client.get("/signin")).text)
        sent = await client.post("/signin/code", data={"csrf": csrf, "engineer": "bo"})
        assert sent.status_code == 200
        assert "code is on its way" in sent.text
        notices = await _get(seeded, Page, Page.kind == "notice", Page.engineer == "bo")
        assert [(n.incident_id, n.channel, n.address) for n in notices] == [
            (None, "sms", "+46702223344")
        ]
        code = await _code_in(recorder, seeded, "bo")
        stored = await _get(seeded, SignInCode, SignInCode.engineer == "bo")
        assert code not in stored[0].code_hash
        wrong = await client.post(
            "/signin/verify", data={"csrf": csrf, "engineer": "bo", "code": "99999x"}
        )
        assert wrong.status_code == 401
        right = await client.post(
            "/signin/verify", data={"csrf": csrf, "engineer": "bo", "code": code}
        )
        assert right.status_code == 303
        assert "bo" in (await client.get("/")).text
        reused = await client.post(
            "/signin/verify", data={"csrf": csrf, "engineer": "bo", "code": code}
        )
        assert reused.status_code in (401, 403)
    await seeded.running.services.escalation.cycle()
    [sent_notice] = await _get(seeded, Page, Page.kind == "notice", Page.engineer == "bo")
    assert sent_notice.status == "sent"
    assert code not in sent_notice.text  # the outbox forgets the code once it went out
    assert code not in str(sent_notice.payload)


async def test_code_guesses_run_out(seeded: Seeded) -> None:
    recorder = _record_sms(seeded)
    async with browser_client(seeded.running) as client:
        csrf = csrf_of((await client.get("/signin")).text)
        await client.post("/signin/code", data={"csrf": csrf, "engineer": "carl"})
        code = await _code_in(recorder, seeded, "carl")
        statuses = []
        for _ in range(5):
            guess = {
                "csrf": csrf,
                "engineer": "carl",
                "code": "000000" if code != "000000" else "1",
            }
            statuses.append((await client.post("/signin/verify", data=guess)).status_code)
        late = await client.post(
            "/signin/verify", data={"csrf": csrf, "engineer": "carl", "code": code}
        )
    assert 303 not in statuses
    assert late.status_code in (401, 429)


async def test_sign_in_attempts_are_rate_limited(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = csrf_of((await client.get("/signin")).text)
        statuses = [
            (await client.post("/signin/code", data={"csrf": csrf, "engineer": "anna"})).status_code
            for _ in range(7)
        ]
    assert statuses == [200] * 3 + [429] * 4  # codes texted to one engineer


async def test_away_toggle_and_test_page(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        await client.post("/people/carl/away", data={"csrf": csrf, "hours": "24"})
        await client.post("/people/carl/test-page", data={"csrf": csrf})
        people = await client.get("/people")
    assert re.search(r"carl\)</span> —\s*<span class=\"status-away\">away until", people.text)
    state = (await _get(seeded, EngineerState, EngineerState.engineer == "carl"))[0]
    assert state.away_until is not None
    tests = await _get(seeded, Page, Page.engineer == "carl", Page.kind == "test")
    assert [page.channel for page in tests] == ["sms"]


async def test_dry_run_names_who_would_be_paged(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        payload = '{"summary": "lag", "severity": "critical", "labels": {"service": "payments-db"}}'
        form = {"csrf": csrf, "payload": payload, "source": "generic", "at": "2026-11-25T14:00"}
        answer = await client.post("/rules/dry-run", data=form)
    assert answer.status_code == 200
    assert "payments-db" in answer.text
    assert "postgres 5 + payments 4 = 9" in answer.text


async def test_history_lists_resolved_incidents_and_exports_csv(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        await client.post(f"/incidents/{seeded.acme_incident}/resolve", data={"csrf": csrf})
        page = await client.get("/history")
        exported = await client.get("/history.csv?customer=acme")
    assert "Per customer" in page.text
    assert "Pages per engineer" in page.text
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("id,customer,system")
    assert lines[1].startswith(f"{seeded.acme_incident},acme,payments-db")
    resolved = await _get(seeded, Incident, Incident.id == seeded.acme_incident)
    assert resolved[0].resolved_by == "anna"


def test_a_missing_session_secret_is_generated_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    assert len(session_secret(Settings(session_secret=None))) == 32
    assert "SESSION_SECRET is not set" in caplog.text


async def test_now_lists_every_open_incident_full_cards_first(seeded: Seeded) -> None:
    now = seeded.running.services.clock.now()
    rows = [
        {
            "group_key": f"storm-{n}",
            "state": "triggered",
            "system": "payments-db",
            "customer": "acme",
            "severity": "warning",
            "summary": f"storm member {n}",
            "unrouted": False,
            "alert_count": 1,
            "opened_at": now,
            "decision": {},
            "rules_version": "test",
            "flags": {},
        }
        for n in range(FULL_CARDS + 20)
    ]
    async with seeded.running.services.engine.begin() as conn:
        await conn.execute(insert(Incident), rows)
        ids = list(await conn.scalars(select(Incident.id).where(Incident.state != "resolved")))
    async with browser_client(seeded.running) as client:
        login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        page = (await client.get("/")).text
        fragment = (await client.get("/fragments/now")).text
    for html in (page, fragment):
        assert {int(n) for n in re.findall(r'id="incident-(\d+)"', html)} == set(ids)
        assert html.count('aria-label="Ack incident') == FULL_CARDS
        assert html.count('<li class="line ') == len(ids) - FULL_CARDS
        assert f"The {FULL_CARDS} most urgent of {len(ids)} open incidents" in html
    # The two seeded critical incidents are the most urgent: full cards with every action.
    card = page[page.index(f'id="incident-{seeded.acme_incident}"') :].split("</li>")[0]
    for action in ("resolve", "escalate", "snooze", "handover"):
        assert f'formaction="/incidents/{seeded.acme_incident}/{action}"' in card
    assert f'action="/incidents/{seeded.acme_incident}/ack"' in card


async def test_rules_page_lists_rejected_requests(seeded: Seeded) -> None:
    running = seeded.running
    bad = await running.client.post(
        "/webhooks/generic", content=b"{", headers=running.webhook_headers()
    )
    assert bad.status_code == 400
    await running.app.state.rejections.flush()  # at once, not at the next second
    async with browser_client(running) as client:
        login(client, running, "engineer", "anna", running.engineer_token)
        page = await client.get("/rules")
    assert "Rejected requests (newest 50)" in page.text
    assert "<code>POST /webhooks/generic</code>" in page.text
    assert "malformed: malformed JSON: EOF while parsing an object" in page.text
