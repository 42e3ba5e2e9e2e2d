"""Ids from outside (cursors, path params, form fields) are ASCII digits within range, else 422.

`str.isdigit` accepted `²` (then `int()` raised: a 500), `int()` accepted Arabic-Indic digits,
`1_0`, `+5` and ` 1`, and an id past 2**63 - 1 reached the PostgreSQL driver (a 500 there).
"""

import pytest

from app.ids import MAX_ID, BadId, parse_id, strict_id
from tests.support.app import RunningApp
from tests.web.support import browser_client, csrf_of, login

HOSTILE = ["²", "\u0661\u0662", "1_0", "+5", "-1", " 1", "1 ", "0x1", "", str(MAX_ID + 1), "9" * 30]
LISTS = ["/api/alerts", "/api/incidents", "/api/silences"]


@pytest.mark.parametrize("text", HOSTILE)
def test_strict_id_refuses_what_int_accepts(text: str) -> None:
    assert strict_id(text) is None
    with pytest.raises(BadId) as raised:
        parse_id(text, "cursor")
    assert raised.value.detail == {"field": "cursor", "value": text[:40]}


def test_strict_id_takes_ascii_digits_up_to_the_bigint_limit() -> None:
    assert (strict_id("0"), strict_id("007"), strict_id(str(MAX_ID))) == (0, 7, MAX_ID)


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", ["²", "\u0661", str(MAX_ID + 1)])
async def test_a_bad_cursor_is_a_422_naming_it(app: RunningApp, path: str, cursor: str) -> None:
    answer = await app.client.get(path, params={"cursor": cursor}, headers=app.reader_headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]["field"] == "cursor"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/incidents/{}"),
        ("GET", "/api/alerts/{}"),
        ("POST", "/api/incidents/{}/ack"),
        ("DELETE", "/api/silences/{}"),
    ],
)
@pytest.mark.parametrize("bad", ["9" * 30, str(MAX_ID + 1), "1_0", "+5", "%D9%A1%D9%A2"])
async def test_a_bad_path_id_is_a_422_naming_it(
    app: RunningApp, method: str, path: str, bad: str
) -> None:
    answer = await app.client.request(method, path.format(bad), headers=app.reader_headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"][0].startswith("path.")


async def test_the_largest_id_is_simply_not_found(app: RunningApp) -> None:
    answer = await app.client.get(f"/api/incidents/{MAX_ID}", headers=app.reader_headers())
    assert answer.status_code == 404, answer.text


@pytest.mark.parametrize("bad", ["9" * 30, "1_0", "%C2%B2"])
async def test_dashboard_paths_refuse_bad_ids_too(app: RunningApp, bad: str) -> None:
    async with browser_client(app) as client:
        login(client, app, "engineer", "anna", app.engineer_token)
        for url in (f"/incidents/{bad}", f"/incidents/{bad}/fragment", f"/i/{bad}"):
            answer = await client.get(url)
            assert answer.status_code == 422, f"{url}: {answer.status_code} {answer.text[:200]}"


async def test_a_silence_form_row_index_in_superscript_is_ignored(sqlite_app: RunningApp) -> None:
    async with browser_client(sqlite_app) as client:
        login(client, sqlite_app, "engineer", "anna", sqlite_app.engineer_token)
        csrf = csrf_of((await client.get("/silences")).text)
        form = {
            "csrf": csrf,
            "name-0": "system",
            "value-0": "payments-db",
            "name-²": "x",
            "value-²": "y",
            "duration": "1h",
            "comment": "drill",
        }
        answer = await client.post("/silences", data=form)
        assert answer.status_code == 303, answer.text[:300]
