"""A crash while paging neither loses a page nor sends one twice, and the ladder keeps its beat.

Both tests run the real `skillpager serve` on SQLite with Twilio pointed at a `TwilioFake`:
- the `after_provider_accept` failpoint kills the sender right after Twilio accepted an SMS and
  before the row was marked sent; the restarted process must find the SMS at Twilio
  (`find_sent`) instead of sending it again;
- a SIGKILL in the middle of a fast ladder (ack_timeout 3s) must resume exactly where the
  database says: every step pages once, in order, about `ack_timeout` apart.
"""

import itertools
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.fakes.twilio_server import TwilioFake
from tests.support import ladder
from tests.support.cycles import wait_for_engine_cycles
from tests.support.ladder import FAST_ACK_TIMEOUT_S, LADDER, LADDER_RULES, PHONES, WAIT_S, PageRow
from tests.support.providers import twilio_env
from tests.support.server import MakeServer

pytestmark = pytest.mark.slow

# The machine is slow and shared: be generous about lateness, strict about earliness.
LATE_SLACK_S = 4.0
EARLY_SLACK_S = 0.05


def test_crash_after_provider_accept_is_settled_without_a_second_sms(
    twilio_fake: TwilioFake, make_server: MakeServer
) -> None:
    server = make_server(
        LADDER_RULES,
        twilio_env(
            twilio_fake, SKILLPAGER_TESTING="1", SKILLPAGER_FAILPOINT="after_provider_accept"
        ),
    )
    server.start()
    token = server.create_token()

    incident_id = ladder.fire(server, name="DbDown")
    code = server.wait_exit(timeout_s=WAIT_S)

    assert code == 137, f"expected the failpoint's exit 137, got {code}:\n{server.log_tail()}"
    accepted = ladder.sms_to(twilio_fake, "bo")
    assert len(accepted) == 1, "the fake must have accepted bo's SMS before the crash"
    with sqlite3.connect(f"file:{server.database_path}?mode=ro", uri=True, timeout=10) as conn:
        before = conn.execute(
            "SELECT engineer, channel, status, provider_id FROM pages WHERE incident_id = ?",
            (incident_id,),
        ).fetchall()
    assert before == [("bo", "sms", "sending", None)], "the crash must leave the row in flight"

    server.update_env({"SKILLPAGER_TESTING": None, "SKILLPAGER_FAILPOINT": None})
    server.start()

    def settled() -> list[PageRow] | None:
        pages = ladder.pages(server, token, incident_id)
        return pages if all(page.status == "sent" for page in pages) else None

    pages = ladder.wait_for("the page left in `sending` to be settled", settled, server)
    wait_for_engine_cycles(server)  # a wrong re-send would show up by now

    assert [(p.engineer, p.channel, p.step, p.round) for p in pages] == [("bo", "sms", 0, 0)]
    to_bo = ladder.sms_to(twilio_fake, "bo")
    assert len(to_bo) == 1, f"bo got {len(to_bo)} SMS for one page: {[m.body for m in to_bo]}"
    assert f"#{incident_id}]" in to_bo[0].body
    assert pages[0].provider_id == to_bo[0].sid, "the row must carry the accepted message's sid"
    assert len(twilio_fake.messages) == 1, [m.to for m in twilio_fake.messages]


def test_crash_after_a_bundled_sms_is_accepted_settles_every_page_of_the_bundle(
    twilio_fake: TwilioFake, make_server: MakeServer
) -> None:
    # db and cache both page bo first; opened in one commit, their pages are claimed together
    # and go out as ONE bundled SMS (the sender merges an engineer's due SMS).
    server = make_server(
        LADDER_RULES,
        twilio_env(
            twilio_fake, SKILLPAGER_TESTING="1", SKILLPAGER_FAILPOINT="after_provider_accept"
        ),
    )
    server.start()
    token = server.create_token()
    incidents = ladder.fire_many(server, name="Bundle", services=("db", "cache"))
    assert server.wait_exit(timeout_s=WAIT_S) == 137, server.log_tail()
    assert len(ladder.sms_to(twilio_fake, "bo")) == 1, "bo's bundled SMS must be accepted before"

    server.update_env({"SKILLPAGER_TESTING": None, "SKILLPAGER_FAILPOINT": None})
    server.start()
    deadline = time.monotonic() + 10.0
    pages: list[PageRow] = []
    while time.monotonic() < deadline:
        pages = [page for i in incidents for page in ladder.pages(server, token, i)]
        if all(page.status == "sent" for page in pages):
            break
        time.sleep(0.2)
    wait_for_engine_cycles(server)  # a wrong re-send would show up by now

    to_bo = ladder.sms_to(twilio_fake, "bo")
    assert len(to_bo) == 1, (
        f"bo got {len(to_bo)} SMS for one bundle: the restart did not recognise the bundle at "
        f"Twilio (find_sent looks for the first page's own text) and sent again: "
        f"{[m.body for m in to_bo]}"
    )
    assert [(p.engineer, p.status) for p in pages] == [("bo", "sent"), ("bo", "sent")], (
        f"every page of the bundle must end `sent`: {[(p.id, p.status) for p in pages]}"
    )
    assert {p.provider_id for p in pages} == {to_bo[0].sid}


def test_sigkill_mid_ladder_resumes_every_step_once_in_order(
    twilio_fake: TwilioFake, tmp_path: Path, make_server: MakeServer
) -> None:
    # Throttle off: bo is paged again in round 2, seconds after round 1.
    env = twilio_env(twilio_fake, SKILLPAGER_SMS_MIN_INTERVAL="0", SKILLPAGER_SMS_PER_15MIN="0")
    server = make_server(ladder.fast_ladder(tmp_path), env)
    server.start()
    token = server.create_token()
    incident_id = ladder.fire(server, name="DbSlow")

    def paged(step: int, round_: int) -> Callable[[], list[PageRow] | None]:
        def check() -> list[PageRow] | None:
            pages = ladder.pages(server, token, incident_id)
            hit = [p for p in pages if (p.step, p.round) == (step, round_) and p.status == "sent"]
            return pages if hit else None

        return check

    ladder.wait_for("step 2 (carl) to be paged", paged(1, 0), server)
    killed_at = time.monotonic()
    server.kill()
    server.start()
    restart_s = time.monotonic() - killed_at
    # Past step 4: round 2 begins with bo again.
    pages = ladder.wait_for("round 2 step 1 to be paged", paged(0, 1), server)
    server.stop()

    expected = [
        (round_, step, engineer)
        for round_ in (0, 1)
        for step, engineers in enumerate(LADDER)
        for engineer in engineers
    ][:6]  # through round 2's first step
    seen = [(p.round, p.step, p.engineer) for p in pages if p.kind == "page"]
    assert seen[: len(expected)] == expected, "a step was skipped, repeated or out of order"
    assert len(set(seen)) == len(seen), f"a page was written twice: {seen}"
    assert all(p.channel == "sms" and p.cycle == 1 for p in pages[: len(expected)])
    done = pages[: len(expected)]
    assert [p.status for p in done] == ["sent"] * len(expected), [
        (p.engineer, p.status) for p in done
    ]
    assert len(pages) == len(expected), f"pages beyond round 2 step 1: {seen}"

    _assert_one_sms_per_page(twilio_fake, done)
    _assert_ack_timeout_apart(done, restart_s)


def _assert_one_sms_per_page(fake: TwilioFake, pages: list[PageRow]) -> None:
    by_sid = {message.sid: message for message in fake.messages}
    assert len(by_sid) == len(fake.messages)
    sids = [page.provider_id for page in pages]
    assert None not in sids, f"provider ids: {sids}"
    assert len(set(sids)) == len(sids), f"provider ids: {sids}"
    for page in pages:
        message = by_sid.get(page.provider_id or "")
        assert message is not None, f"page {page.id} names a message Twilio never accepted"
        assert message.to == PHONES[page.engineer]
    # Nothing else was sent (the next step was ack_timeout away when the server stopped), and
    # Twilio got the steps in ladder order; pages of one step go out together, in any order.
    assert len(fake.messages) == len(pages), [m.to for m in fake.messages]
    position = {page.provider_id: (page.round, page.step) for page in pages}
    arrived = [position[message.sid] for message in fake.messages]
    assert arrived == sorted(arrived), f"steps reached Twilio out of order: {arrived}"


def _assert_ack_timeout_apart(pages: list[PageRow], restart_s: float) -> None:
    steps: dict[tuple[int, int], datetime] = {}
    for page in pages:
        steps.setdefault((page.round, page.step), page.created_at)
    moments = [steps[key] for key in sorted(steps)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
    assert len(gaps) == 4
    for index, gap in enumerate(gaps):
        # The step after the kill may wait for the restart as well.
        late = LATE_SLACK_S + (restart_s if index == 1 else 0.0)
        assert FAST_ACK_TIMEOUT_S - EARLY_SLACK_S <= gap <= FAST_ACK_TIMEOUT_S + late, (
            f"step {index + 2} came {gap:.2f}s after step {index + 1} "
            f"(ack_timeout {FAST_ACK_TIMEOUT_S}s, restart took {restart_s:.1f}s): {gaps}"
        )
