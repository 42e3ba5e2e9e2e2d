"""Helpers for dashboard tests: sessions per role, CSRF tokens, a seeded app."""

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import httpx
from sqlalchemy.engine import Connection

from app.paging.base import Delivery, OutboundPage
from app.store.session import make_engine
from app.store.tokens import TokenKind, hash_token
from app.store.web_sessions import create_session, new_session_id
from app.web.sessions import COOKIE, anonymous, ttl_of
from tests.support.app import RunningApp
from tests.support.channels import SmsDouble

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@dataclass
class Seeded:
    """An app with one acme and one globex incident, and tokens for both customers."""

    running: RunningApp
    acme_incident: int
    globex_incident: int
    acme_token: str
    globex_token: str


async def seed(running: RunningApp) -> Seeded:
    """Post one alert per customer and make a customer token for each."""
    ids = []
    for labels in ({"service": "payments-db"}, {"cluster": "prod-eu"}):
        body = {"summary": f"down {labels}", "severity": "critical", "labels": labels}
        answer = await running.client.post(
            "/webhooks/generic", json=body, headers=running.webhook_headers()
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["incidents"][0])
    acme = await running.token(TokenKind.CUSTOMER, "acme")
    globex = await running.token(TokenKind.CUSTOMER, "globex")
    return Seeded(running, ids[0], ids[1], acme, globex)


class RecordingSms(SmsDouble):
    """A fake SMS channel that keeps what it was asked to send."""

    name = "sms"

    def __init__(self) -> None:
        self.sent: list[OutboundPage] = []

    async def send(self, page: OutboundPage) -> Delivery:
        self.sent.append(page)
        return Delivery(f"rec-{page.page_id}", "sent")

    async def aclose(self) -> None:
        return None


def record_sms(seeded: Seeded) -> RecordingSms:
    """Put a recording SMS channel in place (before anything is sent)."""
    recorder = RecordingSms()
    seeded.running.services.channels["sms"] = recorder
    return recorder


async def code_in(recorder: RecordingSms, seeded: Seeded, engineer: str) -> str:
    """The sign-in code as the engineer's phone got it."""
    await seeded.running.services.escalation.settle()
    await seeded.running.services.escalation.cycle()
    texts = [p.text for p in recorder.sent if p.engineer_id == engineer]
    found = re.search(r"code: (\d{6})", " ".join(texts))
    assert found is not None, texts
    return found.group(1)


@asynccontextmanager
async def browser_client(
    running: RunningApp, *, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of its own on the running app, calling from `address`."""
    transport = httpx.ASGITransport(app=running.app, client=(address, 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def login(
    client: httpx.AsyncClient, running: RunningApp, kind: str, subject: str, token: str
) -> str:
    """Give `client` a session for `kind`/`subject` (bound to `token`); returns its CSRF.

    The session is stored as a sign-in stores it; synchronous so tests call it inline.
    """
    now, session_id = running.services.clock.now(), new_session_id()
    work = partial(
        create_session,
        session_id=session_id,
        kind=kind,
        subject=subject,
        token_hash=hash_token(token),
        now=now,
        ttl=ttl_of(kind),
        user_agent="test client",
    )
    _in_a_thread(running.services.db.url, work)
    session = anonymous(now).signed_in(kind, subject, now, session_id)
    client.cookies.set(COOKIE, running.app.state.web.codec.dump(session))
    return session.csrf


def _in_a_thread(url: str, work: Callable[[Connection], None]) -> None:
    """Run a unit of work on its own engine and event loop (the caller's loop is busy)."""

    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(work)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
