"""The running service's skills map: dry-run over HTTP, reload on request, change and SIGHUP."""

import asyncio
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.app import BASIC_RULES, RunningApp, app_settings, running_app


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(BASIC_RULES, target)
    return target


@pytest.fixture
async def app(sqlite_database: str, rules_dir: Path) -> AsyncIterator[RunningApp]:
    async with running_app(app_settings(sqlite_database, rules_dir=rules_dir)) as running:
        yield running


async def dry_run(app: RunningApp, payload: object, **params: str) -> dict[str, Any]:
    response = await app.client.post(
        "/api/route", content=json.dumps(payload), params=params, headers=app.reader_headers()
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_dry_run_routes_without_storing(app: RunningApp) -> None:
    decision = await dry_run(
        app, {"summary": "lag", "severity": "critical", "labels": {"service": "payments-db"}}
    )
    assert decision["system"] == "payments-db"
    assert decision["steps"] == [
        {"after_s": 0, "engineers": ["bo"]},
        {"after_s": 300, "engineers": ["anna"]},
    ]
    assert decision["action"] == "page"
    assert any(r["chosen"] and r["engineer"] == "bo" for r in decision["reasons"])
    am = {"alerts": [{"labels": {"alertname": "X", "cluster": "prod-1", "severity": "info"}}]}
    other = await dry_run(app, am, source="alertmanager", at="2026-11-25T03:00:00+00:00")
    assert (other["system"], other["action"]) == ("k8s", "dashboard")
    stored = await app.client.get("/api/alerts", headers=app.reader_headers())
    assert stored.json()["items"] == []


async def test_broken_edit_is_refused_and_the_old_map_keeps_routing(
    app: RunningApp, rules_dir: Path
) -> None:
    good_version = app.services.rules.holder.version
    systems = rules_dir / "systems.yaml"
    systems.write_text(systems.read_text() + "  bad:\n    skils: [x]\n")
    response = await app.client.post("/api/rules/reload", headers=app.reader_headers())
    assert response.status_code == 422
    errors = response.json()["detail"]["errors"]
    assert any(e.startswith(f"{systems}:") and "skils" in e for e in errors)
    ready = (await app.client.get("/readyz")).json()["checks"]["rules"]
    assert ready["last_reload"] == "refused"
    assert ready["version"] == good_version
    decision = await dry_run(app, {"summary": "x", "labels": {"service": "payments-db"}})
    assert decision["system"] == "payments-db"
    metrics = (await app.client.get("/metrics")).text
    assert f'skillpager_rules_info{{version="{good_version}"}} 1.0' in metrics
    assert 'skillpager_rules_reloads_total{result="error"} 1.0' in metrics


async def _first_for_k8s(app: RunningApp) -> object:
    decision = await dry_run(app, {"summary": "x", "labels": {"cluster": "prod-1"}})
    engineers: object = decision["steps"][0]["engineers"]
    return engineers


async def test_a_valid_edit_applies_on_the_next_poll(sqlite_database: str, rules_dir: Path) -> None:
    settings = app_settings(sqlite_database, rules_dir=rules_dir, rules_poll_s=0.05)
    async with running_app(settings) as app:
        assert await _first_for_k8s(app) == ["carl"]
        systems = rules_dir / "systems.yaml"
        systems.write_text(systems.read_text().replace("[kubernetes]", "[postgres]"))
        for _ in range(100):
            if await _first_for_k8s(app) == ["bo"]:
                break
            await asyncio.sleep(0.05)
        assert await _first_for_k8s(app) == ["bo"]


async def test_sighup_reloads(sqlite_database: str, rules_dir: Path) -> None:
    settings = app_settings(sqlite_database, rules_dir=rules_dir, rules_poll_s=3600)
    async with running_app(settings) as app:
        systems = rules_dir / "systems.yaml"
        systems.write_text(systems.read_text().replace("[kubernetes]", "[postgres]"))
        assert await _first_for_k8s(app) == ["carl"]
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.05)
        assert await _first_for_k8s(app) == ["bo"]
