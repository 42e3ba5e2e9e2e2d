"""Watching the watcher: the service pings an external dead-man's switch on a timer, and a
failing receiver is logged without stopping the pings."""

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app.heartbeats.outbound import OutboundPinger
from tests.support.app import app_settings, running_app
from tests.support.server import free_port


class Receiver:
    """A dead-man's switch on 127.0.0.1: records (method, path), answers 500 first, then 200."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                receiver.seen.append((self.command, self.path))
                self.send_response(500 if len(receiver.seen) == 1 else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ping/abc"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_the_app_pings_on_a_timer_and_survives_errors(
    sqlite_database: str, receiver: Receiver
) -> None:
    settings = app_settings(
        sqlite_database,
        outbound_heartbeat_url=receiver.url,
        outbound_heartbeat_method="POST",
        outbound_heartbeat_every_s=0.05,
    )
    async with running_app(settings):
        await until(lambda: len(receiver.seen) >= 3)  # the first answer was a 500
    assert set(receiver.seen) == {("POST", "/ping/abc")}


async def test_no_ping_while_the_engine_is_not_cycling(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    pinger = OutboundPinger(client, url=receiver.url, alive=lambda: False)
    assert await pinger.ping() is False
    assert receiver.seen == []


async def test_unreachable_switch_is_logged_not_raised(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/ping"
    pinger = OutboundPinger(client, url=url, timeout_s=1.0)
    assert await pinger.ping() is False
    assert "outbound heartbeat failed: ConnectError" in caplog.text
