"""One place sets the security headers of every answer (issue 12.14).

Every dashboard route, as every role, with every status it answers (pages, live fragments,
redirects, 401/403/404 error pages), and the other answers (JSON API, webhooks, unknown paths,
static files, API docs) carry: no framing (CSP frame-ancestors and X-Frame-Options), nosniff
and a same-origin referrer policy.
"""

import httpx
import pytest

from app.asgi import DASHBOARD_CSP
from tests.web.routes import ROLES, TABLE, answers, login_as
from tests.web.support import Seeded, browser_client


def assert_secured(answer: httpx.Response, *, csp: str = DASHBOARD_CSP) -> None:
    """The answer carries every security header, once."""
    where = f"{answer.request.method} {answer.request.url.path} → {answer.status_code}"
    assert answer.headers.get_list("content-security-policy") == [csp], where
    assert "frame-ancestors 'none'" in csp
    assert answer.headers.get_list("x-frame-options") == ["DENY"], where
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"], where
    assert answer.headers.get_list("referrer-policy") == ["same-origin"], where


@pytest.mark.parametrize(("method", "path", "form", "expected"), TABLE)
async def test_every_dashboard_answer_is_secured(
    seeded: Seeded, method: str, path: str, form: dict[str, str], expected: tuple[int, ...]
) -> None:
    statuses = dict(zip(ROLES, expected, strict=True))
    async for role, url, answer in answers(seeded, method, path, form):
        assert answer.status_code == statuses[role], f"{role} {method} {url}"
        assert_secured(answer)


async def test_error_pages_and_fragments_are_secured(seeded: Seeded) -> None:
    running = seeded.running
    async with browser_client(running) as client:
        login_as(client, seeded, "engineer")
        for url, status in (
            (f"/incidents/{seeded.acme_incident}/fragment", 200),
            ("/fragments/now", 200),
            ("/incidents/99999999", 404),
            ("/incidents/99999999/fragment", 404),
            ("/no/such/page", 404),
        ):
            answer = await client.get(url)
            assert answer.status_code == status, url
            assert_secured(answer)
    async with browser_client(running) as anonymous:
        answer = await anonymous.get(f"/incidents/{seeded.acme_incident}/fragment")
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("text/html")
        assert_secured(answer)


async def test_other_answers_are_secured_too(seeded: Seeded) -> None:
    running = seeded.running
    client = running.client
    posted = await client.post(
        "/webhooks/generic", json={"summary": "x"}, headers=running.webhook_headers()
    )
    assert posted.status_code == 202
    assert_secured(posted)
    refused = await client.post("/webhooks/generic", json={"summary": "x"})
    assert refused.status_code == 401
    assert_secured(refused)
    for url in ("/api/incidents", "/healthz", "/readyz", "/static/app.css", "/openapi.json"):
        answer = await client.get(url, headers=running.reader_headers())
        assert answer.status_code == 200, url
        assert_secured(answer)
    # The API docs run FastAPI's inline script and Swagger UI's CDN: framing is still refused.
    for url in ("/docs", "/redoc"):
        answer = await client.get(url)
        assert answer.status_code == 200
        assert_secured(answer, csp="frame-ancestors 'none'")
