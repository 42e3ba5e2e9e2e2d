"""`replay EVENT_ID` is a dry run: today's parser and rules on the stored bytes, and the
difference from what happened; only `--apply` stores, and asks first (issue 19, point 3)."""

import json

from sqlalchemy import create_engine, func, select

from app.store.tables import Base
from tests.cli.support import Cli
from tests.support.app import app_settings, running_app

_BODY = {"summary": "disk full", "dedup_key": "d1", "labels": {"service": "payments-db"}}


async def _stored_event(cli: Cli) -> int:
    """Post one alert through the real app; the id of its raw event."""
    url = cli.migrate()
    async with running_app(app_settings(url, rules_dir=cli.rules_dir)) as app:
        posted = await app.client.post(
            "/webhooks/generic", content=json.dumps(_BODY), headers=app.webhook_headers()
        )
        [alert_id] = posted.json()["alerts"]
        detail = await app.client.get(f"/api/alerts/{alert_id}", headers=app.reader_headers())
        [raw] = detail.json()["raw_events"]
    return int(raw["id"])


def _counts(cli: Cli) -> tuple[int, int]:
    """(raw events, sum of alert counts) in the CLI's database."""
    engine = create_engine(cli.env["SKILLPAGER_DATABASE_URL"].replace("+aiosqlite", ""))
    tables = Base.metadata.tables
    with engine.connect() as conn:
        raw = conn.execute(select(func.count()).select_from(tables["raw_events"])).scalar_one()
        seen = conn.execute(select(func.sum(tables["alerts"].c.count))).scalar_one()
    engine.dispose()
    return raw, seen


async def test_dry_run_stores_nothing_and_shows_no_difference(cli: Cli) -> None:
    event = await _stored_event(cli)
    before = _counts(cli)
    done = cli.run("replay", str(event))
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0].startswith(f"raw event {event}: generic, {len(json.dumps(_BODY))} bytes")
    assert lines[0].endswith("(dry run: nothing is stored or paged; --apply does)")
    assert "  system   payments-db  customer acme" in done.out
    assert lines[-1] == "difference from what happened: none"
    assert _counts(cli) == before


async def test_dry_run_shows_what_todays_rules_change(cli: Cli) -> None:
    event = await _stored_event(cli)
    systems = cli.rules_dir / "systems.yaml"
    systems.write_text(systems.read_text().replace("payments-db:", "payments-primary:", 1))
    done = cli.run("replay", str(event))
    assert done.code == 0, done.err
    tail = done.out.splitlines()[-2:]
    assert tail[0] == "difference from what happened:"
    assert tail[1] == (
        "  generic:d1: then warning, system payments-db, pages bo, anna; "
        "today warning, system payments-primary, pages bo, anna"
    )


async def test_apply_asks_and_refuses_without_a_terminal(cli: Cli) -> None:
    event = await _stored_event(cli)
    before = _counts(cli)
    done = cli.run("replay", "--apply", str(event))
    assert (done.code, done.err) == (
        2,
        f"replay raw event {event} as a new delivery: this stores alerts and can page people "
        "now; no terminal to confirm on: add --yes\n",
    )
    assert _counts(cli) == before
    applied = cli.run("replay", "--apply", "--yes", str(event))
    assert applied.code == 0, applied.err
    assert json.loads(applied.out)["raw_event"] == event + 1
    assert _counts(cli) == (before[0] + 1, before[1] + 1)


async def test_unknown_event(cli: Cli) -> None:
    cli.migrate()
    done = cli.run("replay", "999")
    assert (done.code, done.err) == (1, "no raw event 999\n")
