"""Login CSRF through `?token=` (issue 12, point 13), in real headless Chromium.

An engineer is signed in; a page on another site (http://localhost:<port>, while the service is
http://127.0.0.1:<port>) links, and redirects, to `/?token=<a customer token>`. After following
either, the session is still the engineer's and the confirmation page is shown.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProcess
from tests.web.browser import chromium, cli

pytestmark = pytest.mark.slow
_WAIT_MS = 15_000


@contextmanager
def other_site(target: str) -> Iterator[str]:
    """A page on another local origin: `/link` links to `target`, `/redirect` sends there."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", target)
                self.end_headers()
                return
            body = f'<!doctype html><a id="go" href="{target}">cute cats</a>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # "localhost" is another site than "127.0.0.1" to the browser (Sec-Fetch-Site: cross-site).
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _sign_in(page: Any, base_url: str, token: str) -> None:
    page.goto(f"{base_url}/signin")
    page.get_by_label("Token", exact=True).fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{base_url}/")


def _still_anna(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/")
    assert page.locator(".whoami").inner_text() == "anna"
    assert page.get_by_role("link", name="People").count() == 1


def test_a_cross_site_token_link_keeps_the_engineer_signed_in(tmp_path: Path) -> None:
    env = {"SKILLPAGER_SESSION_SECRET": "browser-test-secret"}
    with chromium() as browser, ServerProcess(tmp_path, env=env) as server:
        engineer = server.create_token(engineer="anna")
        acme = cli(server.database_url, "token", "create", "--customer", "acme").split()[-1]
        base = server.base_url
        page = browser.new_context().new_page()
        _sign_in(page, base, engineer)
        with other_site(f"{base}/?token={acme}") as attacker:
            page.goto(f"{attacker}/link")
            page.locator("#go").click()
            page.wait_for_url(f"{base}/?token=*", timeout=_WAIT_MS)
            confirm = page.get_by_role("button", name="Continue as acme")
            assert confirm.count() == 1
            assert page.locator(".whoami").inner_text() == "anna"
            _still_anna(page, base)
            page.goto(f"{attacker}/redirect")
            page.wait_for_url(f"{base}/?token=*", timeout=_WAIT_MS)
            assert page.get_by_role("button", name="Continue as acme").count() == 1
            _still_anna(page, base)
        # The engineer may still choose to switch, by pressing the button.
        page.goto(f"{base}/?token={acme}")
        page.get_by_role("button", name="Continue as acme").click()
        page.wait_for_url(f"{base}/", timeout=_WAIT_MS)
        assert page.locator(".whoami").inner_text() == "acme (customer)"
        assert "token=" not in page.url
