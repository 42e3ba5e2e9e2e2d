"""Server-side dashboard sessions (issue 12, points 12 and 13), through real HTTP on SQLite and
PostgreSQL: a copied cookie ends with sign-out, token revocation and "sign out everywhere"; an
SMS-code session is revocable; a `?token=` link never replaces a session without a confirmation.
"""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, select

from app.clock import FrozenClock, SystemClock
from app.store.retention import Retention
from app.store.tables import WebSession
from app.store.tokens import TokenKind, list_tokens
from app.store.web_sessions import hash_session_id
from app.web.access import WebState
from app.web.sessions import COOKIE
from tests.support.app import app_settings, running_app
from tests.web.browser import cli
from tests.web.support import Seeded, browser_client, code_in, csrf_of, record_sms, seed


@pytest.fixture
async def seeded_db(database_url: str) -> AsyncIterator[Seeded]:
    """The real app on SQLite and on PostgreSQL, seeded like `seeded`."""
    async with running_app(app_settings(database_url, session_secret="test-secret")) as running:
        yield await seed(running)


@pytest.fixture
async def frozen(sqlite_database: str) -> AsyncIterator[tuple[Seeded, FrozenClock]]:
    """The real app on a frozen clock (SQLite is enough: the times are ours)."""
    clock = FrozenClock(SystemClock().now())
    settings = app_settings(sqlite_database, session_secret="test-secret")
    async with running_app(settings, clock=clock) as running:
        yield await seed(running), clock


async def _token_sign_in(client: httpx.AsyncClient, token: str) -> str:
    """Sign in through the form, as a person does; the new session's CSRF token."""
    form = {"csrf": csrf_of((await client.get("/signin")).text), "token": token, "next": "/"}
    answer = await client.post("/signin", data=form)
    assert answer.status_code == 303, answer.text
    return csrf_of((await client.get("/")).text)


async def _code_sign_in(
    client: httpx.AsyncClient, seeded: Seeded, engineer: str, *, remember: bool = False
) -> str:
    """Sign in with a code texted to the engineer; the new session's CSRF token."""
    recorder = record_sms(seeded)
    csrf = csrf_of((await client.get("/signin")).text)
    sent = await client.post("/signin/code", data={"csrf": csrf, "engineer": engineer})
    assert sent.status_code == 200
    assert "Remember this phone for 30 days" in sent.text
    code = await code_in(recorder, seeded, engineer)
    form = {"csrf": csrf, "engineer": engineer, "code": code}
    if remember:
        form["remember"] = "yes"
    assert (await client.post("/signin/verify", data=form)).status_code == 303
    return csrf_of((await client.get("/")).text)


async def _signed_in(seeded: Seeded, cookie: str) -> bool:
    """Whether another client holding a copy of a session cookie (a stolen one) is let in."""
    async with browser_client(seeded.running) as other:
        other.cookies.set(COOKIE, cookie)
        answer = await other.get("/")
        return answer.status_code == 200


async def test_a_copied_cookie_fails_after_sign_out(seeded_db: Seeded) -> None:
    async with browser_client(seeded_db.running) as client:
        csrf = await _token_sign_in(client, seeded_db.running.engineer_token)
        copied = client.cookies[COOKIE]
        assert await _signed_in(seeded_db, copied)
        assert (await client.post("/signout", data={"csrf": csrf})).status_code == 303
    assert not await _signed_in(seeded_db, copied)


async def test_revoking_the_token_ends_its_sessions_at_once(seeded_db: Seeded) -> None:
    running = seeded_db.running
    token = await running.token(TokenKind.ENGINEER, "bo")
    async with browser_client(running) as client:
        await _token_sign_in(client, token)
        copied = client.cookies[COOKIE]
    async with running.services.engine.connect() as conn:
        [info] = [t for t in await list_tokens(conn) if t.subject == "bo"]
    # The real CLI in its own process, as an operator revokes a token.
    cli(running.services.db.url, "token", "revoke", str(info.id))
    # No wait for the token cache's refresh: the session row is checked on every request.
    assert not await _signed_in(seeded_db, copied)
    async with running.services.engine.connect() as conn:
        row = (await conn.execute(select(WebSession).where(WebSession.subject == "bo"))).one()
    assert row.revoked_at is not None


async def test_an_sms_code_session_ends_with_sign_out(seeded_db: Seeded) -> None:
    async with browser_client(seeded_db.running) as client:
        csrf = await _code_sign_in(client, seeded_db, "bo")
        copied = client.cookies[COOKIE]
        assert await _signed_in(seeded_db, copied)
        assert (await client.post("/signout", data={"csrf": csrf})).status_code == 303
    assert not await _signed_in(seeded_db, copied)


async def test_sign_out_everywhere_ends_every_session_of_that_engineer(seeded_db: Seeded) -> None:
    running = seeded_db.running
    bo_token = await running.token(TokenKind.ENGINEER, "bo")
    async with (
        browser_client(running) as phone,
        browser_client(running) as laptop,
        browser_client(running) as anna,
    ):
        await _code_sign_in(phone, seeded_db, "bo")
        await _token_sign_in(laptop, bo_token)
        anna_csrf = await _token_sign_in(anna, running.engineer_token)
        people = await anna.get("/people")
        assert "2 dashboard sessions" in people.text
        cookies = [phone.cookies[COOKIE], laptop.cookies[COOKIE]]
        refused = await anna.post("/people/bo/signout-everywhere", data={})
        assert refused.status_code == 403  # no CSRF token: nothing ends
        assert all([await _signed_in(seeded_db, c) for c in cookies])
        done = await anna.post("/people/bo/signout-everywhere", data={"csrf": anna_csrf})
        assert (done.status_code, done.headers["location"]) == (303, "/people#person-bo")
        assert (await anna.get("/")).status_code == 200  # anna's own session holds
    assert not any([await _signed_in(seeded_db, c) for c in cookies])


async def test_sign_out_everywhere_for_oneself_signs_this_browser_out_too(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = await _code_sign_in(client, seeded, "carl")
        done = await client.post("/people/carl/signout-everywhere", data={"csrf": csrf})
        assert (done.status_code, done.headers["location"]) == (303, "/signin")
        assert (await client.get("/")).status_code == 303


async def test_a_customer_cannot_sign_engineers_out(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as team, browser_client(seeded.running) as acme:
        await _token_sign_in(team, seeded.running.engineer_token)
        csrf = await _token_sign_in(acme, seeded.acme_token)
        answer = await acme.post("/people/anna/signout-everywhere", data={"csrf": csrf})
        assert answer.status_code == 403
        assert (await team.get("/")).status_code == 200


async def test_one_indexed_lookup_per_request_and_no_write_per_poll(seeded: Seeded) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "web_sessions" in statement:
            statements.append(statement.split()[0].upper())

    async with browser_client(seeded.running) as client:
        await _token_sign_in(client, seeded.running.engineer_token)
        engines = [seeded.running.services.engine.sync_engine]
        # and the synchronous engines units of work run on (SQLite)
        engines += [e for e in vars(seeded.running.services.db).values() if isinstance(e, Engine)]
        for engine in engines:
            event.listen(engine, "before_cursor_execute", record)
        for _ in range(5):
            assert (await client.get("/fragments/now")).status_code == 200
    assert statements == ["SELECT"] * 5


async def test_last_seen_is_kept_every_few_minutes_and_expiry_holds(
    frozen: tuple[Seeded, FrozenClock],
) -> None:
    seeded, clock = frozen
    async with browser_client(seeded.running) as client:
        await _token_sign_in(client, seeded.running.engineer_token)
        clock.advance(timedelta(minutes=6))
        assert (await client.get("/")).status_code == 200
        async with seeded.running.services.engine.connect() as conn:
            row = (await conn.execute(select(WebSession))).one()
        assert row.last_seen_at.replace(tzinfo=None) == clock.now().replace(tzinfo=None)
        assert row.user_agent.startswith("python-httpx/")
        clock.advance(timedelta(hours=12))
        assert (await client.get("/")).status_code == 303


async def test_remember_this_phone_lasts_30_days_and_is_still_revocable(
    frozen: tuple[Seeded, FrozenClock],
) -> None:
    seeded, clock = frozen
    async with browser_client(seeded.running) as kept, browser_client(seeded.running) as plain:
        await _code_sign_in(kept, seeded, "bo", remember=True)
        await _code_sign_in(plain, seeded, "carl")
        async with seeded.running.services.engine.connect() as conn:
            rows = {r.subject: r for r in await conn.execute(select(WebSession))}
        assert rows["bo"].expires_at - rows["bo"].created_at == timedelta(days=30)
        assert rows["carl"].expires_at - rows["carl"].created_at == timedelta(hours=12)
        clock.advance(timedelta(hours=13))
        assert (await plain.get("/")).status_code == 303
        assert (await kept.get("/")).status_code == 200
        clock.advance(timedelta(days=29, hours=12))  # 30 days and 1 hour in all
        assert (await kept.get("/")).status_code == 303
    async with browser_client(seeded.running) as kept, browser_client(seeded.running) as anna:
        await _code_sign_in(kept, seeded, "bo", remember=True)
        csrf = await _token_sign_in(anna, seeded.running.engineer_token)
        await anna.post("/people/bo/signout-everywhere", data={"csrf": csrf})
        assert (await kept.get("/")).status_code == 303


async def test_retention_prunes_expired_sessions(frozen: tuple[Seeded, FrozenClock]) -> None:
    seeded, clock = frozen
    async with browser_client(seeded.running) as team, browser_client(seeded.running) as acme:
        await _token_sign_in(team, seeded.running.engineer_token)
        await _token_sign_in(acme, seeded.acme_token)
        acme_hash = hash_session_id(_session_id(seeded, acme))
    clock.advance(timedelta(hours=13))  # the team session expired; the customer's has 30 days
    retention = Retention(seeded.running.services.db, clock=clock, keep=timedelta(days=30))
    await retention.run_once()
    async with seeded.running.services.engine.connect() as conn:
        left = [row.id_hash for row in await conn.execute(select(WebSession))]
    assert left == [acme_hash]


def _session_id(seeded: Seeded, client: httpx.AsyncClient) -> str:
    """The session id inside a client's (signed) cookie."""
    web: WebState = seeded.running.app.state.web
    codec = web.codec
    value = client.cookies[COOKIE].strip('"')  # quoted in Set-Cookie (base64 padding)
    session = codec.load(value, seeded.running.services.clock.now())
    assert session is not None
    assert session.sid is not None
    return session.sid


# ?token= links (point 13) ----------------------------------------------------------------


async def test_a_cross_site_token_link_never_replaces_a_team_session(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        await _token_sign_in(client, seeded.running.engineer_token)
        before = client.cookies[COOKIE]
        headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
        link = await client.get(f"/?token={seeded.acme_token}", headers=headers)
        assert link.status_code == 200
        assert "Continue as acme" in link.text
        assert "You are signed in as <strong>anna</strong>" in link.text
        assert link.headers["referrer-policy"] == "no-referrer"
        assert "set-cookie" not in link.headers
        assert client.cookies[COOKIE] == before
        still = await client.get("/")
        assert "Ack" in still.text  # still anna's team view
        # The switch itself is a POST with the session's CSRF token: a forged one is refused.
        forged = {"csrf": "forged", "token": seeded.acme_token, "next": "/"}
        assert (await client.post("/signin/link", data=forged)).status_code == 403
        assert "Ack" in (await client.get("/")).text


async def test_switching_to_the_customer_ends_the_team_session(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        await _token_sign_in(client, seeded.running.engineer_token)
        team_cookie = client.cookies[COOKIE]
        link = await client.get(f"/incidents/{seeded.acme_incident}?token={seeded.acme_token}")
        form = {"csrf": csrf_of(link.text), "token": seeded.acme_token}
        form["next"] = f"/incidents/{seeded.acme_incident}"
        switched = await client.post("/signin/link", data=form)
        assert (switched.status_code, switched.headers["location"]) == (303, form["next"])
        view = await client.get("/")
        assert "acme (customer)" in view.text
        assert "Ack" not in view.text
    assert not await _signed_in(seeded, team_cookie)


async def test_a_first_visit_with_a_link_asks_before_signing_in(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        link = await client.get(f"/?token={seeded.acme_token}")
        assert link.status_code == 200
        assert "Continue as acme" in link.text
        assert (await client.get("/")).status_code == 303  # not signed in by the GET
        form = {"csrf": csrf_of(link.text), "token": seeded.acme_token, "next": "/"}
        assert (await client.post("/signin/link", data=form)).status_code == 303
        assert "acme (customer)" in (await client.get("/")).text


async def test_a_link_with_a_bad_token_is_refused(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        assert (await client.get("/?token=sp_c_nothing")).status_code == 401
        link = await client.get(f"/?token={seeded.acme_token}")
        form = {"csrf": csrf_of(link.text), "token": seeded.running.engineer_token, "next": "/"}
        # The confirmation only ever starts a customer session.
        assert (await client.post("/signin/link", data=form)).status_code == 401
