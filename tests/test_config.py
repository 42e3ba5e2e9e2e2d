"""Settings: defaults from ARCHITECTURE §4, and one clear line per invalid setting."""

import pytest

from app.config import SettingsInvalid, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SKILLPAGER_DATABASE_URL", "SKILLPAGER_PORT", "SKILLPAGER_WEBHOOK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.database_url == "sqlite+aiosqlite:///./skillpager.db"
    assert settings.max_body_bytes == 1024 * 1024
    assert (settings.sms_min_interval, settings.sms_per_15min, settings.retention_days) == (
        "60s",
        5,
        30,
    )
    assert settings.slack_api_url == "https://slack.com/api"


def test_each_problem_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKILLPAGER_PORT", "eighty")
    monkeypatch.setenv("SKILLPAGER_DATABASE_URL", "mysql://x")
    monkeypatch.setenv("SKILLPAGER_PUBLIC_URL", "example.com")
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    problems = caught.value.problems
    assert len(problems) == 3
    assert any(p.startswith("SKILLPAGER_PORT:") for p in problems)
    assert any(
        p.startswith("SKILLPAGER_DATABASE_URL: ") and "sqlite+aiosqlite" in p for p in problems
    )
    assert any(p.startswith("SKILLPAGER_PUBLIC_URL:") for p in problems)


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKILLPAGER_WEBHOOK_TOKEN", "very-secret-token")
    assert "very-secret-token" not in repr(load_settings())
