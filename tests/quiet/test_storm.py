"""Storm control: thousands of alerts of one system are one incident, one page round, all stored;
the incident counts them, flags the storm, and the next page says so once."""

import asyncio
import random
from datetime import timedelta

from app.clock import FrozenClock
from app.store.tables import Page, RawEvent
from tests.quiet.helpers import count_rows, detail, fire, kinds, paged, run_minutes, send
from tests.support.app import RunningApp

EVENTS = 5000
KEYS = 50
WAVE = 100  # requests in flight together (the writer commits them in groups)


def storm_events(seed: int = 7) -> list[tuple[str, str]]:
    """(key, status): every key fires first (key-0 opens the incident and fires throughout),
    then the other 49 fire and resolve at random."""
    rng = random.Random(seed)
    events = [(f"key-{key}", "firing") for key in range(KEYS)]
    while len(events) < EVENTS:
        key = rng.randrange(KEYS)
        status = "firing" if key == 0 else rng.choice(("firing", "resolved"))
        events.append((f"key-{key}", status))
    return events


async def test_five_thousand_alerts_in_a_minute_page_one_engineer_once(
    app: RunningApp, clock: FrozenClock
) -> None:
    events = storm_events()
    incidents: set[int] = set()
    for start in range(0, EVENTS, WAVE):
        answers = await asyncio.gather(
            *(send(app, "api", key, status) for key, status in events[start : start + WAVE])
        )
        incidents |= {i for answer in answers for i in answer["incidents"]}
        clock.advance(timedelta(seconds=1))  # 50 waves: 50 s
    await app.services.escalation.settle()
    assert len(incidents) == 1
    (incident_id,) = incidents
    assert await count_rows(app, RawEvent) == EVENTS
    assert await count_rows(app, Page) == 1  # one page round, step 1, one SMS
    assert await paged(app, incident_id) == ["bo"]
    found = await detail(app, incident_id)
    assert (found["state"], found["storm"], found["events"]) == ("triggered", True, EVENTS)
    assert found["storm_rate"] == EVENTS  # all within the first minute
    assert found["distinct_keys"] == KEYS
    assert len(found["recent_summaries"]) == 5
    assert found["recent_summaries"][0] == "api {} {}".format(*events[-1])
    assert kinds(found).count("storm") == 1
    assert kinds(found).count("paged") == 1


async def test_the_next_page_says_storm_once(app: RunningApp, clock: FrozenClock) -> None:
    incident_id = await fire(app, "noisy", "n-0")
    assert incident_id is not None
    first = (await detail(app, incident_id))["pages"]
    assert "storm" not in first[0]["text"]
    for number in range(1, 12):  # 12 alerts within a minute; `noisy` storms above 5
        await fire(app, "noisy", f"n-{number % 3}")
    found = await detail(app, incident_id)
    assert (found["storm"], found["storm_rate"]) == (True, 12)
    assert await paged(app, incident_id) == ["bo"]  # said in the next page, not paged for it
    await run_minutes(app, clock, 5)
    second = (await detail(app, incident_id))["pages"][-1]
    assert second["engineer"] == "dana"
    assert second["text"].startswith(f"[CRIT #{incident_id}] noisy: storm: 12 alerts in 60 s.")
    await run_minutes(app, clock, 5)
    third = (await detail(app, incident_id))["pages"][-1]
    assert third["engineer"] == "anna"
    assert "storm" not in third["text"]


async def test_a_thousand_a_minute_reads_with_a_thousands_separator(
    app: RunningApp, clock: FrozenClock
) -> None:
    incident_id = await fire(app, "noisy", "n-0")
    assert incident_id is not None
    for start in range(1, 1240, WAVE):  # 1,239 more within the same minute
        stop = min(start + WAVE, 1240)
        await asyncio.gather(*(send(app, "noisy", f"n-{i % 7}") for i in range(start, stop)))
    await run_minutes(app, clock, 5)
    assert "storm: 1,240 alerts in 60 s" in (await detail(app, incident_id))["pages"][-1]["text"]


async def test_below_the_storm_rate_no_storm(app: RunningApp, clock: FrozenClock) -> None:
    incident_id = await fire(app, "noisy", "n-0")
    assert incident_id is not None
    for _minute in range(3):  # 5 a minute, spread over 3 minutes: never more than 5 in one
        for number in range(4):
            await fire(app, "noisy", f"n-{number}")
        clock.advance(timedelta(minutes=1))
    found = await detail(app, incident_id)
    assert (found["storm"], found["storm_rate"], found["events"]) == (False, None, 13)
    assert found["distinct_keys"] == 4
