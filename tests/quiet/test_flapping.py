"""Flapping: an alert changing state more than `flap.changes` times within `flap.window` reopens
its incident quietly; the incident pages once and then only when the alert is stable again.

`flappy` has flap {changes: 2, window: 30m}; the other systems keep the default {3, 30m}.
"""

from datetime import timedelta

from app.clock import FrozenClock
from tests.quiet.helpers import detail, fire, kinds, paged, run_minutes
from tests.support.app import RunningApp


async def flap(app: RunningApp, clock: FrozenClock, service: str, key: str, times: int) -> None:
    """Resolve and fire again `times` times, a minute apart."""
    for _ in range(times):
        clock.advance(timedelta(minutes=1))
        await fire(app, service, key, "resolved")
        clock.advance(timedelta(minutes=1))
        await fire(app, service, key)


async def test_a_flapping_alert_pages_once(app: RunningApp, clock: FrozenClock) -> None:
    incident = await fire(app, "flappy", "cron-late")
    assert incident is not None
    await flap(app, clock, "flappy", "cron-late", 6)
    found = await detail(app, incident)
    assert (found["state"], found["flapping"]) == ("triggered", True)
    assert kinds(found).count("reopened") == 6
    assert kinds(found).count("flapping") == 6
    assert await paged(app, incident) == ["bo"]  # the first page only
    last_change = clock.now()
    assert found["next_action_at"] == (last_change + timedelta(minutes=30)).isoformat()

    await run_minutes(app, clock, 29)
    assert await paged(app, incident) == ["bo"]
    await run_minutes(app, clock, 1)  # stable (still firing) for the window: paged again
    assert await paged(app, incident) == ["bo", "bo"]
    found = await detail(app, incident)
    assert found["flapping"] is False
    assert "stable" in kinds(found)


async def test_a_quiet_flapping_incident_that_resolves_stays_quiet(
    app: RunningApp, clock: FrozenClock
) -> None:
    incident = await fire(app, "flappy", "cron-late")
    assert incident is not None
    await flap(app, clock, "flappy", "cron-late", 3)
    clock.advance(timedelta(minutes=1))
    await fire(app, "flappy", "cron-late", "resolved")
    await run_minutes(app, clock, 60)
    assert await paged(app, incident) == ["bo"]
    assert (await detail(app, incident))["state"] == "resolved"


async def test_with_the_default_three_changes_the_first_refire_still_pages(
    app: RunningApp, clock: FrozenClock
) -> None:
    incident = await fire(app, "api", "5xx")
    assert incident is not None
    await flap(app, clock, "api", "5xx", 1)  # fire, resolve, fire: 3 changes, not more
    assert await paged(app, incident) == ["bo", "bo"]
    assert (await detail(app, incident))["flapping"] is False
    await flap(app, clock, "api", "5xx", 4)  # 5 and more: flapping, quiet
    assert await paged(app, incident) == ["bo", "bo"]
    assert (await detail(app, incident))["flapping"] is True


async def test_a_refire_after_the_window_opens_a_new_incident(
    app: RunningApp, clock: FrozenClock
) -> None:
    incident = await fire(app, "flappy", "cron-late")
    await flap(app, clock, "flappy", "cron-late", 2)
    clock.advance(timedelta(minutes=1))
    await fire(app, "flappy", "cron-late", "resolved")
    clock.advance(timedelta(minutes=31))
    again = await fire(app, "flappy", "cron-late")
    assert again is not None
    assert again != incident
    assert await paged(app, again) == ["bo"]
    assert (await detail(app, again))["flapping"] is False
