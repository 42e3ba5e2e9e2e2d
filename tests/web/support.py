"""Helpers for dashboard tests: sessions per role, CSRF tokens, a seeded app."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from app.store.tokens import TokenKind, hash_token
from app.web.sessions import COOKIE, Session
from tests.support.app import RunningApp

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


@asynccontextmanager
async def browser_client(running: RunningApp) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of its own on the running app."""
    transport = httpx.ASGITransport(app=running.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def login(
    client: httpx.AsyncClient, running: RunningApp, kind: str, subject: str, token: str
) -> str:
    """Give `client` a signed session for `kind`/`subject` (bound to `token`); returns its CSRF."""
    now = running.services.clock.now()
    session = Session(None, "", "unused", now).signed_in(kind, subject, now, hash_token(token))
    client.cookies.set(COOKIE, running.app.state.web.codec.dump(session))
    return session.csrf
