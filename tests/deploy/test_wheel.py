"""The wheel works anywhere: installed outside the checkout, run from an empty folder."""

import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from app.store.migrate import alembic_config
from tests.deploy.support import REPO_ROOT, post_alert, run, service_env, serving
from tests.support.server import free_port

pytestmark = pytest.mark.slow


def test_wheel_migrates_and_serves_from_an_empty_folder(
    installed_bin: Path, tmp_path: Path
) -> None:
    """`skillpager migrate && skillpager serve` in an empty cwd: healthy, takes an alert."""
    empty = tmp_path / "empty"
    empty.mkdir()
    port = free_port()
    env = service_env("sqlite+aiosqlite:///./skillpager.db", port)
    skillpager = str(installed_bin / "skillpager")
    assert "schema is at head" in run([skillpager, "migrate"], env, empty)
    with serving([skillpager, "serve"], env, empty, port) as client:
        incident = post_alert(client, "disk full on db-1")
        token = run([skillpager, "token", "create", "--engineer", "anna"], env, empty)
        headers = {"Authorization": f"Bearer {token.strip().splitlines()[-1]}"}
        answer = client.get(f"/api/incidents/{incident}", headers=headers)
        assert answer.status_code == 200, answer.text
    assert (empty / "skillpager.db").is_file()


def test_wheel_carries_the_migrations(installed_bin: Path) -> None:
    """The installed package finds its migrations inside itself, not in a checkout or cwd."""
    code = "from app.store.migrate import migrations_dir; print(migrations_dir())"
    found = Path(run([str(installed_bin / "python"), "-c", code], {}, installed_bin).strip())
    assert found.parent.name == "app"
    assert found.parent.parent.name == "site-packages"
    assert sorted(p.name for p in (found / "versions").glob("0*.py"))[:2] == [
        "0001_initial_schema.py",
        "0002_alert_text_search.py",
    ]


def test_checkout_alembic_ini_finds_the_same_migrations(tmp_path: Path) -> None:
    """Developers' `alembic` in the checkout (top-level alembic.ini) sees the packaged head."""
    alembic = Path(sys.executable).parent / "alembic"
    env = {"SKILLPAGER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}"}
    heads = run([str(alembic), "-c", str(REPO_ROOT / "alembic.ini"), "heads"], env, tmp_path)
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert heads.split() == [str(head), "(head)"]
