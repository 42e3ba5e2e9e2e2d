"""The dashboard's route table and the roles it is tried as, shared by the authorization and
security-header tests: every route the app serves outside the JSON API, webhooks and provider
callbacks, with the status each role gets."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx

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


def login_as(client: httpx.AsyncClient, seeded: Seeded, role: str) -> str:
    """Sign `client` in as `role` (anonymous stays out); its CSRF token, or ''."""
    running = seeded.running
    if role == "engineer":
        return login(client, running, "engineer", "anna", running.engineer_token)
    if role in ("acme", "globex"):
        token = seeded.acme_token if role == "acme" else seeded.globex_token
        return login(client, running, "customer", role, token)
    return ""


async def create_silence(seeded: Seeded) -> int:
    """An active silence (for the {S} rows); its id."""
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


async def answers(
    seeded: Seeded, method: str, path: str, form: dict[str, str]
) -> AsyncIterator[tuple[str, str, httpx.Response]]:
    """A TABLE row's request, made once per role (ROLES order): (role, url, answer)."""
    url = path.replace("{A}", str(seeded.acme_incident))
    if "{S}" in url:
        url = url.replace("{S}", str(await create_silence(seeded)))
    for role in ROLES:
        async with browser_client(seeded.running) as client:
            csrf = login_as(client, seeded, role)
            if method == "GET":
                yield role, url, await client.get(url)
            else:
                yield (
                    role,
                    url,
                    await client.post(url, data=form | ({"csrf": csrf} if csrf else {})),
                )
