"""Every dashboard route, as anonymous, customer A (acme), customer B (globex) and engineer.

The table must name every route the app serves outside the JSON API, webhooks and provider
callbacks: a new page without a row here fails `test_the_table_covers_every_route`.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.routing import BaseRoute, Mount

from tests.web.support import Seeded, browser_client, login

ROLES = ("anonymous", "acme", "globex", "engineer")
# method, path ({A}: acme's incident, {S}: an active silence), form fields, expected status per
# role (as ROLES).
TABLE: list[tuple[str, str, dict[str, str], tuple[int, int, int, int]]] = [
    ("GET", "/signin", {}, (200, 303, 303, 303)),
    ("POST", "/signin", {"token": "wrong"}, (403, 401, 401, 401)),
    ("POST", "/signin/code", {"engineer": "nobody"}, (403, 200, 200, 200)),
    ("POST", "/signin/verify", {"engineer": "bo", "code": "000000"}, (403, 401, 401, 401)),
    ("POST", "/signin/link", {"token": "wrong"}, (403, 401, 401, 401)),
    ("POST", "/signout", {}, (403, 303, 303, 303)),
    ("GET", "/", {}, (303, 200, 200, 200)),
    ("GET", "/fragments/now", {}, (401, 200, 200, 200)),
    ("GET", "/i/{A}", {}, (303, 303, 303, 303)),
    ("GET", "/incidents/{A}", {}, (303, 200, 404, 200)),
    ("GET", "/incidents/{A}/fragment", {}, (401, 200, 404, 200)),
    ("GET", "/incidents/{A}/raw", {}, (303, 403, 403, 200)),
    ("POST", "/incidents/{A}/notes", {"text": "n", "visibility": "shared"}, (401, 403, 403, 303)),
    ("POST", "/incidents/{A}/ack", {"next": "/"}, (401, 403, 403, 303)),
    ("GET", "/people", {}, (303, 403, 403, 200)),
    ("POST", "/people/bo/away", {"hours": "4"}, (401, 403, 403, 303)),
    ("POST", "/people/bo/test-page", {}, (401, 403, 403, 303)),
    ("POST", "/people/bo/signout-everywhere", {}, (401, 403, 403, 303)),
    ("GET", "/rules", {}, (303, 403, 403, 200)),
    (
        "POST",
        "/rules/dry-run",
        {"payload": '{"summary": "x"}', "source": "generic"},
        (401, 403, 403, 200),
    ),
    ("POST", "/incidents/{A}/mute", {"duration": "1h"}, (401, 403, 403, 303)),
    ("GET", "/silences", {}, (303, 403, 403, 200)),
    (
        "POST",
        "/silences",
        {"system": "payments-db", "duration": "1h", "comment": "drill"},
        (401, 403, 403, 303),
    ),
    ("POST", "/silences/{S}/expire", {}, (401, 403, 403, 303)),
    ("GET", "/history", {}, (303, 200, 200, 200)),
    ("GET", "/history.csv", {}, (303, 200, 200, 200)),
]
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


async def _login(client: Any, seeded: Seeded, role: str) -> str:
    running = seeded.running
    if role == "engineer":
        return login(client, running, "engineer", "anna", running.engineer_token)
    if role in ("acme", "globex"):
        token = seeded.acme_token if role == "acme" else seeded.globex_token
        return login(client, running, "customer", role, token)
    return ""


async def _silence(seeded: Seeded) -> int:
    running = seeded.running
    now = running.services.clock.now()
    body = {
        "matchers": [{"name": "system", "value": "k8s"}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "anna",
        "comment": "drill",
    }
    answer = await running.client.post("/api/silences", json=body, headers=running.reader_headers())
    assert answer.status_code == 200, answer.text
    silence_id: int = answer.json()["silenceID"]
    return silence_id


@pytest.mark.parametrize(("method", "path", "form", "expected"), TABLE)
async def test_route_answers_each_role(
    seeded: Seeded, method: str, path: str, form: dict[str, str], expected: tuple[int, ...]
) -> None:
    url = path.replace("{A}", str(seeded.acme_incident))
    if "{S}" in url:
        url = url.replace("{S}", str(await _silence(seeded)))
    for role, status in zip(ROLES, expected, strict=True):
        async with browser_client(seeded.running) as client:
            csrf = await _login(client, seeded, role)
            if method == "GET":
                answer = await client.get(url)
            else:
                answer = await client.post(url, data=form | ({"csrf": csrf} if csrf else {}))
            assert answer.status_code == status, f"{role} {method} {url}: {answer.text[:300]}"
            if role in ("acme", "globex") and status == 200:
                other = "globex" if role == "acme" else "acme"
                for secret in (other, *_SECRETS):
                    assert secret not in answer.text, f"{role} sees {secret!r} on {url}"


async def test_signed_in_posts_without_csrf_are_refused(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        silence = await _silence(seeded)
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
