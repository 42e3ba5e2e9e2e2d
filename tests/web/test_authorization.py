"""Every dashboard route, as anonymous, customer A (acme), customer B (globex) and engineer.

The table (tests/web/routes.py) must name every route the app serves outside the JSON API,
webhooks and provider callbacks: a new page without a row here fails
`test_the_table_covers_every_route`.
"""

from collections.abc import Iterator

import pytest
from starlette.routing import BaseRoute, Mount

from tests.web.routes import ROLES, TABLE, answers, create_silence
from tests.web.support import Seeded, browser_client, login

# Served elsewhere with their own auth tests (JSON API, webhooks, provider callbacks, ops).
_NOT_DASHBOARD = (
    "/api/",
    "/webhooks/",
    "/v2/",
    "/twilio/",
    "/slack/",
    "/heartbeats/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
)
# What a customer must never see on any page.
_SECRETS = ("+4670", "Raw payload", "Why these people", "min_level", "runbook", "paged:")


def _flat(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        yield from _flat(inner.routes) if inner is not None else [route]


def _template(path: str) -> str:
    return (
        path.replace("{incident_id}", "{A}")
        .replace("{engineer}", "bo")
        .replace("{action}", "ack")
        .replace("{silence_id}", "{S}")
    )


def test_the_table_covers_every_route(seeded: Seeded) -> None:
    served = set()
    for route in _flat(seeded.running.app.routes):
        path = getattr(route, "path", "")
        if isinstance(route, Mount) or path.startswith(_NOT_DASHBOARD):
            continue
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            served.add((method, path))
    templated = {(method, _template(path)) for method, path in served}
    # /incidents/{A}/{action} is listed as its ack row; notes has a row of its own.
    assert templated == {(method, path) for method, path, _, _ in TABLE}


@pytest.mark.parametrize(("method", "path", "form", "expected"), TABLE)
async def test_route_answers_each_role(
    seeded: Seeded, method: str, path: str, form: dict[str, str], expected: tuple[int, ...]
) -> None:
    statuses = dict(zip(ROLES, expected, strict=True))
    async for role, url, answer in answers(seeded, method, path, form):
        status = statuses[role]
        assert answer.status_code == status, f"{role} {method} {url}: {answer.text[:300]}"
        if role in ("acme", "globex") and status == 200:
            other = "globex" if role == "acme" else "acme"
            for secret in (other, *_SECRETS):
                assert secret not in answer.text, f"{role} sees {secret!r} on {url}"


async def test_signed_in_posts_without_csrf_are_refused(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        silence = await create_silence(seeded)
        for url in (
            f"/incidents/{seeded.acme_incident}/ack",
            f"/incidents/{seeded.acme_incident}/mute",
            "/people/bo/away",
            "/silences",
            f"/silences/{silence}/expire",
            "/signout",
        ):
            form = {
                "csrf": "forged",
                "hours": "4",
                "duration": "1h",
                "system": "k8s",
                "comment": "c",
            }
            answer = await client.post(url, data=form)
            assert answer.status_code == 403, url


async def test_customer_api_is_scoped_too(seeded: Seeded) -> None:
    client = seeded.running.client
    mine = {"Authorization": f"Bearer {seeded.acme_token}"}
    theirs = await client.get(f"/api/incidents/{seeded.globex_incident}", headers=mine)
    own = await client.get(f"/api/incidents/{seeded.acme_incident}", headers=mine)
    assert (theirs.status_code, own.status_code) == (404, 200)
    listed = await client.get("/api/incidents", headers=mine)
    assert {item["customer"] for item in listed.json()["items"]} == {"acme"}
