"""Sign-in limits (issue 12, point 15): sending codes, guessing codes and pasting tokens each
have limits of their own, so no stranger can lock an engineer out, least of all one with a
token; a code dies after a few wrong guesses and more guesses back off instead of locking.
"""

import re

import httpx
import pytest
from sqlalchemy import select

from app.store.tables import SignInCode
from app.web.ratelimit import Backoff
from tests.web.support import RecordingSms, Seeded, browser_client, csrf_of, record_sms

NAT = "10.0.0.66"  # one office address: the attacker and the engineers behind it share it


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _latest_code(recorder: RecordingSms, seeded: Seeded, engineer: str) -> str:
    """The newest code the engineer's phone got (each new code replaces the older ones)."""
    await seeded.running.services.escalation.settle()
    await seeded.running.services.escalation.cycle()
    texts = " ".join(p.text for p in recorder.sent if p.engineer_id == engineer)
    codes = re.findall(r"code: (\d{6})", texts)
    assert codes, texts
    return str(codes[-1])


async def _csrf(client: httpx.AsyncClient) -> str:
    return csrf_of((await client.get("/signin")).text)


async def _send(client: httpx.AsyncClient, csrf: str, engineer: str) -> int:
    answer = await client.post("/signin/code", data={"csrf": csrf, "engineer": engineer})
    return answer.status_code


async def _guess(client: httpx.AsyncClient, csrf: str, engineer: str, code: str) -> httpx.Response:
    return await client.post(
        "/signin/verify", data={"csrf": csrf, "engineer": engineer, "code": code}
    )


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _ticking_backoff(seeded: Seeded) -> Ticks:
    """Give the app's guess backoff (same settings) a clock the test moves."""
    ticks = Ticks()
    seeded.running.app.state.web.guesses = Backoff(free=3, base_s=1.0, cap_s=60.0, clock=ticks)
    return ticks


async def test_a_right_token_signs_in_whatever_strangers_did(seeded: Seeded) -> None:
    record_sms(seeded)
    async with browser_client(seeded.running, address=NAT) as attacker:
        csrf = await _csrf(attacker)
        wrong_tokens = [
            (await attacker.post("/signin", data={"csrf": csrf, "token": f"sp_e_x{i}"})).status_code
            for i in range(31)
        ]
        sends = [await _send(attacker, csrf, "anna") for _ in range(4)]
        guesses = [(await _guess(attacker, csrf, "anna", "123456")).status_code for _ in range(5)]
    assert wrong_tokens == [401] * 30 + [429]
    assert sends == [200, 200, 200, 429]
    assert guesses[-1] == 429
    async with browser_client(seeded.running, address=NAT) as anna:
        form = {"csrf": await _csrf(anna), "token": seeded.running.engineer_token, "next": "/"}
        answer = await anna.post("/signin", data=form)
        assert (answer.status_code, answer.headers["location"]) == (303, "/")
        assert "Ack" in (await anna.get("/")).text


async def test_sending_codes_does_not_use_up_the_guesses(seeded: Seeded) -> None:
    recorder = record_sms(seeded)
    async with browser_client(seeded.running) as client:
        csrf = await _csrf(client)
        assert [await _send(client, csrf, "bo") for _ in range(3)] == [200] * 3
        code = await _latest_code(recorder, seeded, "bo")
        wrong = [(await _guess(client, csrf, "bo", _wrong(code))).status_code for _ in range(2)]
        assert wrong == [401, 401]
        assert (await _guess(client, csrf, "bo", code)).status_code == 303


async def test_codes_sent_are_limited_per_engineer_and_per_address(seeded: Seeded) -> None:
    record_sms(seeded)
    async with browser_client(seeded.running, address=NAT) as client:
        csrf = await _csrf(client)
        assert [await _send(client, csrf, "carl") for _ in range(4)] == [200, 200, 200, 429]
        # Another engineer behind the same address still gets codes...
        assert await _send(client, csrf, "bo") == 200
        # ...until the address has asked for 20 codes (any names: unknown ones look the same).
        others = [await _send(client, csrf, f"nobody-{i}") for i in range(17)]
        assert others == [200] * 16 + [429]
    async with browser_client(seeded.running, address="10.0.0.67") as elsewhere:
        assert await _send(elsewhere, await _csrf(elsewhere), "bo") == 200


async def test_a_code_is_burnt_after_three_wrong_guesses(seeded: Seeded) -> None:
    recorder = record_sms(seeded)
    ticks = _ticking_backoff(seeded)
    async with browser_client(seeded.running) as client:
        csrf = await _csrf(client)
        await _send(client, csrf, "bo")
        code = await _latest_code(recorder, seeded, "bo")
        for _ in range(3):
            assert (await _guess(client, csrf, "bo", _wrong(code))).status_code == 401
        ticks.now += 60  # past any backoff: only the burnt code stands in the way
        late = await _guess(client, csrf, "bo", code)
        assert late.status_code == 401
        assert "wrong or expired" in late.text
    async with seeded.running.services.engine.connect() as conn:
        [row] = list(await conn.execute(select(SignInCode).where(SignInCode.engineer == "bo")))
    assert (row.attempts, row.used_at is not None) == (3, True)


async def test_wrong_guesses_back_off_then_a_right_code_still_signs_in(seeded: Seeded) -> None:
    recorder = record_sms(seeded)
    ticks = _ticking_backoff(seeded)
    async with browser_client(seeded.running) as client:
        csrf = await _csrf(client)
        await _send(client, csrf, "bo")
        code = await _latest_code(recorder, seeded, "bo")
        for _ in range(3):
            await _guess(client, csrf, "bo", _wrong(code))
        waits = []
        for step in (1, 2, 4):
            early = await _guess(client, csrf, "bo", code)
            waits.append((early.status_code, f"try again in {step} s" in early.text))
            ticks.now += step
            assert (await _guess(client, csrf, "bo", _wrong(code))).status_code == 401
        assert waits == [(429, True)] * 3
        # Someone else's guesses never slow carl down.
        assert (await _guess(client, csrf, "carl", "123456")).status_code == 401
        ticks.now += 8
        await _send(client, csrf, "bo")
        fresh = await _latest_code(recorder, seeded, "bo")
        assert (await _guess(client, csrf, "bo", fresh)).status_code == 303


def test_the_backoff_is_capped_and_forgets() -> None:
    ticks = Ticks()
    backoff = Backoff(free=3, base_s=1.0, cap_s=60.0, forget_after_s=900.0, clock=ticks)
    waits = []
    for _ in range(12):
        backoff.failed("bo")
        waits.append(backoff.wait_s("bo"))
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    ticks.now += 60 + 901
    backoff.failed("bo")
    assert backoff.wait_s("bo") == 0  # a quarter of an hour without failures starts over
    backoff.succeeded("bo")
    assert backoff.wait_s("bo") == 0


@pytest.mark.parametrize("engineer", ["anna", "someone-unknown"])
async def test_the_send_limit_answers_the_same_for_unknown_names(
    seeded: Seeded, engineer: str
) -> None:
    record_sms(seeded)
    async with browser_client(seeded.running) as client:
        csrf = await _csrf(client)
        statuses = [await _send(client, csrf, engineer) for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
