"""Operator commands: replay a raw event, send a test page, show channel health in `check`."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from app.cli import main
from app.operations import page_test, replay
from app.store.tables import Base
from tests.fakes.slack_server import BOT_TOKEN, SlackFake
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.support.app import BASIC_RULES, app_settings, running_app


async def test_replay_runs_a_stored_event_again(
    sqlite_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = app_settings(sqlite_database)
    body = {"summary": "disk full", "dedup_key": "d1", "labels": {"service": "payments-db"}}
    async with running_app(settings) as app:
        posted = await app.client.post(
            "/webhooks/generic", content=json.dumps(body), headers=app.webhook_headers()
        )
        [alert_id] = posted.json()["alerts"]
        detail = await app.client.get(f"/api/alerts/{alert_id}", headers=app.reader_headers())
        [raw] = detail.json()["raw_events"]
    assert await replay(settings, raw["id"]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["alerts"] == [alert_id]  # the same firing cycle, seen once more
    assert replayed["raw_event"] > raw["id"]
    assert await replay(settings, 999) == 1
    assert "no raw event 999" in capsys.readouterr().err


async def test_page_test_reaches_every_channel(
    sqlite_database: str,
    twilio_fake: TwilioFake,
    slack_fake: SlackFake,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = app_settings(
        sqlite_database,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from="+15550001111",
        twilio_api_url=twilio_fake.url,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack_fake.url,
    )
    assert await page_test(settings, "bo", None) == 0
    [sms] = twilio_fake.messages
    assert (sms.to, sms.body) == (
        "+46702223344",
        "skillpager test page for Bo Lind via sms. No action needed.",
    )
    assert [m.channel for m in slack_fake.messages] == [SlackFake.dm_channel("U02BO")]
    printed = capsys.readouterr().out
    assert f"sms: sent to ***3344 via Twilio SMS ({sms.sid})" in printed
    assert "slack: sent to U02BO via Slack" in printed
    twilio_fake.fail_with_code(21211)
    assert await page_test(settings, "bo", "sms") == 1
    assert await page_test(settings, "nobody", None) == 2


def test_check_reports_channel_health_from_the_database(
    sqlite_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLPAGER_DATABASE_URL", sqlite_database)
    import sqlalchemy

    engine = sqlalchemy.create_engine(sqlite_database.replace("+aiosqlite", ""))
    with engine.begin() as conn:
        conn.execute(
            insert(Base.metadata.tables["engineer_states"]),
            {
                "engineer": "bo",
                "sms_unhealthy": "21211",
                "sms_opted_out": False,
                "bad_replies": 0,
                "updated_at": datetime.now(UTC),
            },
        )
    engine.dispose()
    assert main(["check", str(BASIC_RULES)]) == 0
    out = capsys.readouterr().out
    assert "channel health: bo: sms failing (21211)" in out


def test_check_without_a_database_still_checks_the_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLPAGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/none.db")
    assert main(["check", str(BASIC_RULES)]) == 0
    assert "channel health not checked" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
