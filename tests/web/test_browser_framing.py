"""Another site cannot frame the dashboard's live fragments, in real Chromium (issue 12.14).

A page served from a second local server (another port: another origin, the same site, so the
Lax session cookie would go along) frames the incident fragment, whose Ack form carries a valid
CSRF token, and the now-list fragment. The browser must show neither.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import LOOPBACK, ServerProcess
from tests.web.browser import chromium

pytestmark = pytest.mark.slow
_MARKER = "framing-probe-summary"


@contextmanager
def framing_site(urls: list[str]) -> Iterator[str]:
    """A server on another port whose one page frames each of `urls`; its page URL."""
    frames = "".join(f'<iframe src="{url}" width="600" height="300"></iframe>' for url in urls)
    body = f"<!doctype html><title>elsewhere</title>{frames}".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _frame_texts(page: Any) -> list[str]:
    texts = []
    for frame in page.frames[1:]:
        try:
            texts.append(frame.content())
        except Exception:  # noqa: BLE001 - a blocked frame may have no document to read
            texts.append("")
    return texts


def test_fragments_cannot_be_framed_by_another_site(tmp_path: Path) -> None:
    env = {"SKILLPAGER_SESSION_SECRET": "framing-test-secret"}
    with chromium() as browser, ServerProcess(tmp_path, env=env) as server:
        token = server.create_token(engineer="anna")
        body = {"summary": _MARKER, "severity": "critical", "labels": {"service": "payments"}}
        posted = httpx.post(
            f"{server.base_url}/webhooks/generic", json=body, headers=server.webhook_headers()
        )
        incident = posted.json()["incidents"][0]
        page = browser.new_context().new_page()
        page.goto(f"{server.base_url}/signin")
        page.get_by_label("Token", exact=True).fill(token)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(f"{server.base_url}/")
        fragment = f"{server.base_url}/incidents/{incident}/fragment"
        # Opened directly, the fragment shows the incident and its Ack form.
        page.goto(fragment)
        assert "Ack" in page.content()
        with framing_site([fragment, f"{server.base_url}/fragments/now"]) as elsewhere:
            page.goto(elsewhere)
            page.wait_for_load_state("load")
            page.wait_for_timeout(500)
            texts = _frame_texts(page)
        assert len(texts) == 2
        for text in texts:
            assert _MARKER not in text
            assert 'name="csrf"' not in text
            assert 'id="incident-state"' not in text
