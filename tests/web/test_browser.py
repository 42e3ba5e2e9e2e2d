"""The dashboard in real headless Chromium against the real service in a subprocess.

Signs in, watches an incident appear without a reload, acks it, sees the timeline update,
creates a silence, and checks a customer link sees only its own customer; saves screenshots on
the way (to a temporary folder; `make screenshots` sends them to docs/screenshots for the README).
"""

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.web.browser import REPO_ROOT, SCREENSHOTS_ENV, chromium, cli, screenshot, screenshots_dir

pytestmark = pytest.mark.slow
_WAIT_MS = 15_000


def _alert(server: ServerProcess, summary: str, labels: dict[str, str]) -> int:
    body = {"summary": summary, "severity": "critical", "labels": labels}
    answer = httpx.post(
        f"{server.base_url}/webhooks/generic", json=body, headers=server.webhook_headers()
    )
    assert answer.status_code == 202, answer.text
    incident: int = answer.json()["incidents"][0]
    return incident


def _sign_in(page: Any, base_url: str, token: str) -> None:
    page.goto(f"{base_url}/")
    assert page.url.startswith(f"{base_url}/signin")
    screenshot(page, "signin")
    page.get_by_label("Token", exact=True).fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{base_url}/")


def _team_tour(page: Any, server: ServerProcess, token: str) -> int:
    _sign_in(page, server.base_url, token)
    page.evaluate("window.notReloaded = true")
    incident = _alert(server, "replica lag 47s", {"service": "payments-db", "customer": "acme"})
    other = _alert(server, "consumer lag", {"job": "kafka", "customer": "globex"})
    page.locator(f"#incident-{incident}").wait_for(timeout=_WAIT_MS)
    assert page.evaluate("window.notReloaded === true"), "the page reloaded"
    page.wait_for_function("document.title.startsWith('(2 open)')", timeout=_WAIT_MS)
    screenshot(page, "now")
    page.get_by_role("button", name=f"Ack incident {incident}").click()
    page.wait_for_url(f"{server.base_url}/")
    assert page.locator(f"#incident-{incident} .state").text_content() == "acknowledged"
    # Every button of a card shares one form and posts to its own action (formaction).
    card = page.locator(f"#incident-{other}")
    card.get_by_text("Snooze / hand over").click()
    card.get_by_label("Snooze for").select_option("15")
    card.get_by_role("button", name="Snooze", exact=True).click()
    page.wait_for_url(f"{server.base_url}/")
    assert page.locator(f"#incident-{other} .state").text_content() == "snoozed"
    page.goto(f"{server.base_url}/incidents/{incident}")
    assert "acknowledged" in page.locator("#timeline").inner_text()
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Note", exact=True).fill(
        "Failover to the replica started; next update 14:30."
    )
    page.get_by_label("Shared with the customer").check()
    page.get_by_role("button", name="Add note").click()
    page.locator("#timeline .ev-note").wait_for(timeout=_WAIT_MS)
    page.evaluate("window.notReloaded = true")
    answer = httpx.post(
        f"{server.base_url}/api/incidents/{incident}/escalate",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    page.locator("#timeline .ev-escalated").wait_for(timeout=_WAIT_MS)
    assert page.evaluate("window.notReloaded === true"), "the timeline needed a reload"
    screenshot(page, "incident")
    return incident


def _other_pages(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/people")
    screenshot(page, "people")
    page.goto(f"{base_url}/rules")
    page.get_by_role("button", name="Route it").click()
    page.locator("#decisions").wait_for()
    screenshot(page, "rules")
    page.goto(f"{base_url}/history")
    screenshot(page, "history")
    page.goto(f"{base_url}/silences")
    page.get_by_label("System", exact=True).fill("acme-checkout")
    page.get_by_label("Label name, row 1").fill("alertname")
    page.get_by_label("Value, row 1").fill("Checkout.*Latency")
    page.locator("input[name=regex-0]").check()
    page.get_by_label("For", exact=True).select_option("4h")
    page.get_by_label("Comment").fill("Load test until 18:00; latency alerts expected.")
    page.get_by_role("button", name="Create silence").click()
    page.wait_for_url(f"{base_url}/silences#silence-*")
    assert "Load test until 18:00" in page.locator("tr[id^=silence-]").inner_text()
    screenshot(page, "silences")


def _customer_tour(browser: Any, server: ServerProcess, incident: int, other: int) -> None:
    token = cli(server.database_url, "token", "create", "--customer", "acme").strip().split()[-1]
    context = browser.new_context(viewport={"width": 414, "height": 860})
    page = context.new_page()
    page.goto(f"{server.base_url}/?token={token}")
    page.get_by_role("button", name="Continue as acme").click()
    page.wait_for_url(f"{server.base_url}/")
    page.locator(f"#incident-{incident}").wait_for()
    assert page.locator(f"#incident-{other}").count() == 0
    assert "globex" not in page.content()
    screenshot(page, "customer-now")
    page.goto(f"{server.base_url}/incidents/{incident}")
    assert "Failover to the replica started" in page.content()
    assert page.get_by_role("button", name="Ack").count() == 0
    screenshot(page, "customer-incident")
    assert page.goto(f"{server.base_url}/incidents/{other}").status == 404
    api = httpx.get(
        f"{server.base_url}/api/incidents/{other}", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 404
    context.close()


def test_dashboard_in_a_real_browser(tmp_path: Path) -> None:
    env = {"SKILLPAGER_SESSION_SECRET": "browser-test-secret"}
    with chromium() as browser, ServerProcess(tmp_path, env=env) as server:
        token = server.create_token(engineer="anna")
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        incident = _team_tour(page, server, token)
        _other_pages(page, server.base_url)
        others = httpx.get(
            f"{server.base_url}/api/incidents", headers={"Authorization": f"Bearer {token}"}
        ).json()["items"]
        other = next(item["id"] for item in others if item["customer"] == "globex")
        context.close()
        _customer_tour(browser, server, incident, other)
    _screenshots_outside_the_tree()


# `make screenshots` must retake every picture the README shows.
README_SCREENSHOTS = {path.stem for path in (REPO_ROOT / "docs" / "screenshots").glob("*.png")}


def _screenshots_outside_the_tree() -> None:
    """Every README screenshot was taken, into the tree only when `make screenshots` asks."""
    assert {path.stem for path in screenshots_dir().glob("*.png")} >= README_SCREENSHOTS
    if not os.environ.get(SCREENSHOTS_ENV):
        assert not screenshots_dir().resolve().is_relative_to(REPO_ROOT)


def test_screenshots_go_to_a_temporary_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `make screenshots`, a test run leaves docs/screenshots alone."""
    monkeypatch.delenv(SCREENSHOTS_ENV, raising=False)
    screenshots_dir.cache_clear()
    try:
        folder = screenshots_dir()
        assert folder.is_dir()
        assert not folder.resolve().is_relative_to(REPO_ROOT)
        folder.rmdir()
    finally:
        screenshots_dir.cache_clear()
