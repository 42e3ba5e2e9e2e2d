"""Maintenance windows (systems.yaml `maintenance:`): an incident opened inside one is recorded
and shown, held until the window ends, then paged if it still fires."""

from datetime import UTC, datetime, timedelta

import pytest

from app.clock import FrozenClock
from app.routing.commands import coverage_command
from tests.quiet.helpers import QUIET_RULES, START, detail, fire, kinds, paged, run_minutes
from tests.support.app import RunningApp, app_settings, running_app

# globex is in maintenance 12:00-14:00 Stockholm on 2026-11-25: 11:00-13:00 UTC.
WINDOW_START = START + timedelta(hours=1)
WINDOW_END = START + timedelta(hours=3)


async def test_outside_a_window_pages_at_once(app: RunningApp) -> None:
    incident = await fire(app, "shop", "checkout-down")
    assert incident is not None
    found = await detail(app, incident)
    assert found["maintenance_until"] is None
    assert await paged(app, incident) == ["bo"]


async def test_inside_a_window_held_until_it_ends(app: RunningApp, clock: FrozenClock) -> None:
    clock.set(WINDOW_START + timedelta(minutes=30))
    incident = await fire(app, "shop", "checkout-down")
    assert incident is not None
    found = await detail(app, incident)
    assert found["maintenance_until"] == WINDOW_END.isoformat()
    assert found["next_action_at"] == WINDOW_END.isoformat()
    assert kinds(found) == ["opened", "maintenance"]
    assert await paged(app, incident) == []
    await run_minutes(app, clock, 89)
    assert await paged(app, incident) == []
    await run_minutes(app, clock, 1)
    assert await paged(app, incident) == ["bo"]
    found = await detail(app, incident)
    assert found["maintenance_until"] is None
    assert kinds(found)[-2:] == ["maintenance_over", "paged"]


async def test_resolved_inside_a_window_never_pages(app: RunningApp, clock: FrozenClock) -> None:
    clock.set(WINDOW_START)
    incident = await fire(app, "shop", "checkout-down")
    assert incident is not None
    clock.advance(timedelta(minutes=20))
    await fire(app, "shop", "checkout-down", "resolved")
    await run_minutes(app, clock, 120)
    assert await paged(app, incident) == []
    assert (await detail(app, incident))["state"] == "resolved"


@pytest.mark.parametrize(
    ("moment", "held_until"),
    [
        # "Sun 09:00" for 1h, Stockholm. Winter (CET, +1): 08:00-09:00 UTC.
        ("2026-03-22T07:30:00+00:00", None),
        ("2026-03-22T08:30:00+00:00", "2026-03-22T09:00:00+00:00"),
        # Summer time began at 02:00 that morning (CEST, +2): the window is 07:00-08:00 UTC.
        ("2026-03-29T07:30:00+00:00", "2026-03-29T08:00:00+00:00"),
        ("2026-03-29T08:30:00+00:00", None),
        # Summer time ended at 03:00 on 2026-10-25: back to 08:00-09:00 UTC.
        ("2026-10-25T07:30:00+00:00", None),
        ("2026-10-25T08:30:00+00:00", "2026-10-25T09:00:00+00:00"),
    ],
)
async def test_a_weekly_window_follows_the_wall_clock_across_dst(
    database_url: str, moment: str, held_until: str | None
) -> None:
    # The app starts at `moment`: its first engine cycle must not run at another time.
    clock = FrozenClock(datetime.fromisoformat(moment))
    settings = app_settings(database_url, rules_dir=QUIET_RULES)
    async with running_app(settings, clock) as app:
        await app.services.escalation.settle()
        incident = await fire(app, "batch", "nightly-job")
        assert incident is not None
        found = await detail(app, incident)
        assert found["maintenance_until"] == held_until
        assert await paged(app, incident) == ([] if held_until else ["bo"])


def test_coverage_lists_the_windows_ahead(capsys: pytest.CaptureFixture[str]) -> None:
    assert coverage_command(QUIET_RULES, 7, datetime(2026, 11, 24, 12, 0, tzinfo=UTC)) == 0
    out = capsys.readouterr().out
    maintenance = out[out.index("maintenance:") :].splitlines()
    assert maintenance[1:] == [
        "  customer globex: Wed 2026-11-25 11:00 UTC → Wed 2026-11-25 13:00 UTC",
        "  batch: Sun 2026-11-29 08:00 UTC → Sun 2026-11-29 09:00 UTC",
    ]
