"""live.js keeps at most one poll in flight, in real Chromium (issue 12.5).

The incident page polls its fragment every 3 s. Here the browser holds every fragment request
unanswered (a slow server): no second request may start while the first is pending, and
polling resumes once it is answered.
"""

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.web.browser import chromium

pytestmark = pytest.mark.slow
_PERIOD_MS = 3000


def test_a_slow_fragment_is_never_polled_twice_at_once(tmp_path: Path) -> None:
    env = {"SKILLPAGER_SESSION_SECRET": "live-test-secret"}
    with chromium() as browser, ServerProcess(tmp_path, env=env) as server:
        token = server.create_token(engineer="anna")
        body = {"summary": "slow fragment", "severity": "critical", "labels": {"service": "db"}}
        posted = httpx.post(
            f"{server.base_url}/webhooks/generic", json=body, headers=server.webhook_headers()
        )
        incident = posted.json()["incidents"][0]
        page = browser.new_context().new_page()
        page.goto(f"{server.base_url}/signin")
        page.get_by_label("Token", exact=True).fill(token)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(f"{server.base_url}/")
        held: list[Any] = []

        def hold(route: Any) -> None:
            held.append(route)

        page.route(f"**/incidents/{incident}/fragment", hold)
        page.goto(f"{server.base_url}/incidents/{incident}")
        page.wait_for_timeout(_PERIOD_MS * 3 + 500)  # three periods: old live.js sent three
        assert len(held) == 1, f"{len(held)} polls in flight at once"
        held[0].continue_()
        page.wait_for_timeout(_PERIOD_MS + 500)
        assert len(held) == 2, "polling stopped after the slow answer"
        for route in held[1:]:
            route.continue_()
