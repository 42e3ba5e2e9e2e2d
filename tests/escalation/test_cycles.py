"""The engine counts the cycles it completed: in process and on `/metrics`, where end-to-end
tests read it to wait for more cycles instead of sleeping (tests/support/cycles.py)."""

from prometheus_client.parser import text_string_to_metric_families

from tests.support.app import RunningApp


async def _exposed(app: RunningApp) -> float:
    response = await app.client.get("/metrics")
    assert response.status_code == 200
    [value] = [
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "skillpager_engine_cycles_total"
    ]
    return value


async def test_every_completed_cycle_is_counted(sqlite_app: RunningApp) -> None:
    engine = sqlite_app.services.escalation
    await engine.settle()  # the cycle the start kicked
    before = engine.cycles
    assert before >= 1
    assert await _exposed(sqlite_app) == before

    await engine.cycle()
    await engine.cycle()

    assert engine.cycles == before + 2
    assert await _exposed(sqlite_app) == before + 2
