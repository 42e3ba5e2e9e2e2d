"""The `skillpager` command: migrate, token create/list/revoke, serve's schema guard."""

from pathlib import Path

import pytest

from app.cli import main
from tests.support.databases import sqlite_url


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = sqlite_url(tmp_path)
    monkeypatch.setenv("SKILLPAGER_DATABASE_URL", url)
    return url


def test_serve_refuses_a_schema_that_is_behind(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 1
    assert "skillpager migrate" in capsys.readouterr().err


def test_token_lifecycle(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert main(["token", "create", "--engineer", "anna"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("sp_e_")
    assert main(["token", "create", "--webhook", "alertmanager"]) == 0
    assert main(["token", "create", "--webhook", "nagios"]) == 2
    assert "unknown source" in capsys.readouterr().err
    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "anna" in listing
    assert "alertmanager" in listing
    assert token not in listing
    assert main(["token", "revoke", "1"]) == 0
    assert main(["token", "revoke", "1"]) == 1
    assert main(["token", "list"]) == 0
    assert "revoked" in capsys.readouterr().out


def test_invalid_settings_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLPAGER_MAX_BODY_BYTES", "-1")
    assert main(["migrate"]) == 2
    assert "invalid setting: SKILLPAGER_MAX_BODY_BYTES" in capsys.readouterr().err
