"""`depends_on`: while an upstream system is down, dependents' incidents are recorded, shown and
page no one; when it resolves, those still firing are routed and paged as if new.

Rules: app → db → network → power (tests/quiet/rules_quiet/systems.yaml).
"""

from app.clock import FrozenClock
from app.incidents.holds import upstream_systems
from app.routing.holder import RulesHolder
from tests.quiet.helpers import QUIET_RULES, START, detail, fire, kinds, paged
from tests.support.app import RunningApp


def test_upstream_systems_are_transitive_nearest_first() -> None:
    rules = RulesHolder(QUIET_RULES, clock=FrozenClock(START)).rules
    assert upstream_systems(rules, "app") == ["db", "network", "power"]
    assert upstream_systems(rules, "power") == []
    assert upstream_systems(rules, None) == []


async def test_dependent_is_suppressed_transitively_then_released_by_the_source(
    app: RunningApp,
) -> None:
    power = await fire(app, "power", "ups-on-battery")
    assert power is not None
    assert await paged(app, power) == ["carl"]
    # app depends on power through db and network, which have no incident of their own.
    app_incident = await fire(app, "app", "5xx")
    assert app_incident is not None
    assert app_incident != power
    found = await detail(app, app_incident)
    assert (found["state"], found["suppressed"], found["suppressed_by"]) == (
        "triggered",
        True,
        power,
    )
    assert found["next_action_at"] is None
    assert kinds(found) == ["opened", "suppressed"]
    assert await paged(app, app_incident) == []
    # A dependent that resolves while suppressed stays quiet for good.
    network = await fire(app, "network", "link-flap")
    assert network is not None
    await fire(app, "network", "link-flap", "resolved")
    assert (await detail(app, network))["state"] == "resolved"

    await fire(app, "power", "ups-on-battery", "resolved")
    assert (await detail(app, power))["state"] == "resolved"
    released = await detail(app, app_incident)
    assert (released["suppressed"], released["suppressed_by"]) == (False, None)
    assert kinds(released) == ["opened", "suppressed", "released", "paged"]
    assert await paged(app, app_incident) == ["bo"]
    assert await paged(app, network) == []


async def test_a_chain_releases_one_level_at_a_time_and_by_hand(app: RunningApp) -> None:
    power = await fire(app, "power", "mains")
    db = await fire(app, "db", "replica-lag")
    app_incident = await fire(app, "app", "latency")
    assert power is not None
    assert db is not None
    assert app_incident is not None
    assert (await detail(app, db))["suppressed_by"] == power
    assert (await detail(app, app_incident))["suppressed_by"] == db  # the nearest one down

    response = await app.client.post(
        f"/api/incidents/{power}/resolve", headers=app.reader_headers()
    )
    assert response.json()["state"] == "resolved"
    assert await paged(app, db) == ["bo"]  # db still fails with power back: paged now
    assert (await detail(app, app_incident))["suppressed_by"] == db
    assert await paged(app, app_incident) == []

    await app.client.post(f"/api/incidents/{db}/resolve", headers=app.reader_headers())
    assert await paged(app, app_incident) == ["bo"]
    assert (await detail(app, app_incident))["suppressed"] is False


async def test_alerts_joining_a_suppressed_incident_page_no_one(app: RunningApp) -> None:
    power = await fire(app, "power", "mains")
    db = await fire(app, "db", "replica-lag")
    assert db is not None
    assert power is not None
    assert await fire(app, "db", "disk-full") == db
    found = await detail(app, db)
    assert (found["alert_count"], found["suppressed"], found["next_action_at"]) == (2, True, None)
    assert await paged(app, db) == []
